// The once-only display of a new key's secret, with a copy button.
import { ApiKey } from "./api.js";
import { byId, say } from "./ui.js";

/** showSecret fills the page's #new-secret panel with key's secret and moves focus to it. */
export function showSecret(key: ApiKey, what: string): void {
  const panel = byId("new-secret");
  byId("new-secret-what").textContent = what;
  const input = byId<HTMLInputElement>("new-secret-value");
  input.value = key.secret;
  panel.hidden = false;
  byId("new-secret-heading").focus();
}

/** wireSecretPanel makes the panel's copy and dismiss buttons work. */
export function wireSecretPanel(): void {
  const input = byId<HTMLInputElement>("new-secret-value");
  byId("copy-secret").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(input.value);
      say("Key copied to the clipboard.");
    } catch {
      // No clipboard permission: select it for the reader to copy.
      input.select();
      say("Select-all done: press Ctrl+C (or ⌘C) to copy the key.");
    }
  });
  byId("dismiss-secret").addEventListener("click", () => {
    input.value = "";
    byId("new-secret").hidden = true;
    say("The key is hidden and cannot be shown again.");
  });
}
