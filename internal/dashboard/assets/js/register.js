// Register: the account's first key is shown once, then the visitor is
// signed in with a cookie session.
import { call, signIn } from "./api.js";
import { showSecret, wireSecretPanel } from "./secret.js";
import { busy, byId, clearError, showError } from "./ui.js";
export function registerPage() {
    wireSecretPanel();
    const form = byId("register-form");
    const error = byId("register-error");
    form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        clearError(error);
        const data = new FormData(form);
        const email = String(data.get("email"));
        const password = String(data.get("password"));
        if (password !== String(data.get("confirm"))) {
            showError(error, new Error("The two passwords differ."));
            return;
        }
        try {
            const created = await busy(form, async () => {
                const r = await call("POST", "/v1/accounts", { email, password });
                await signIn(email, password);
                return r;
            });
            form.hidden = true;
            byId("registered").hidden = false;
            showSecret(created.apiKey, "your account's first key, “" + created.apiKey.displayName + "”");
        }
        catch (err) {
            showError(error, err);
        }
    });
}
