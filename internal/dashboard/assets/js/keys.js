// Keys: list, create (name, scopes, expiry), rename, rotate with a grace
// period, revoke. A new secret is shown once (secret.ts).
import { call } from "./api.js";
import { showSecret, wireSecretPanel } from "./secret.js";
import { busy, byId, clearError, el, keyID, say, showError, when } from "./ui.js";
export function keysPage() {
    wireSecretPanel();
    const form = byId("create-form");
    const error = byId("create-error");
    form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        clearError(error);
        const data = new FormData(form);
        const scopes = data.getAll("scopes").map(String);
        const body = { displayName: String(data.get("displayName")).trim(), scopes };
        const expires = String(data.get("expires") ?? "");
        if (expires) {
            // The end of the chosen day, in the visitor's time zone.
            body.expireTime = new Date(expires + "T23:59:59").toISOString();
        }
        try {
            const r = await busy(form, () => call("POST", "/v1/keys", body));
            form.reset();
            showSecret(r.apiKey, "the new key “" + r.apiKey.displayName + "”");
            await load();
        }
        catch (err) {
            showError(error, err);
        }
    });
    wireDialogs();
    void load();
}
async function load() {
    const body = byId("keys-body");
    const error = byId("keys-error");
    try {
        const r = await call("GET", "/v1/keys");
        body.replaceChildren(...r.apiKeys.map(row));
        byId("keys-empty").hidden = r.apiKeys.length > 0;
    }
    catch (err) {
        showError(error, err);
    }
}
function row(k) {
    const id = keyID(k.name);
    const action = (label, dialog) => el("button", { type: "button", class: "small", "data-dialog": dialog, "data-key": id, "data-name": k.displayName,
        "aria-label": `${label} ${k.displayName}` }, label);
    const rotated = k.previousSecretExpireTime ? el("div", { class: "note" }, "old secret valid until " + when(k.previousSecretExpireTime)) : null;
    return el("tr", {}, el("th", { scope: "row" }, k.displayName, el("div", { class: "note mono" }, k.prefix + "…")), el("td", { "data-label": "Scopes" }, k.scopes.join(", ")), el("td", { "data-label": "Created" }, when(k.createTime)), el("td", { "data-label": "Expires" }, when(k.expireTime, "never"), rotated), el("td", { "data-label": "Last used" }, when(k.lastUseTime, "not yet")), el("td", { class: "actions" }, action("Rename", "rename"), action("Rotate", "rotate"), action("Revoke", "revoke")));
}
// The three dialogs: each is opened by a row's button and gives focus
// back to it when cancelled; after a change the list is drawn again, and
// focus goes to what follows from the change.
function wireDialogs() {
    let opener = null;
    let key = "";
    byId("keys-body").addEventListener("click", (ev) => {
        const b = ev.target.closest("button[data-dialog]");
        if (!b)
            return;
        opener = b;
        key = b.dataset.key ?? "";
        const d = byId(b.dataset.dialog + "-dialog");
        d.querySelectorAll(".dialog-key").forEach((e) => (e.textContent = b.dataset.name ?? ""));
        const name = d.querySelector("input[name=displayName]");
        if (name)
            name.value = b.dataset.name ?? "";
        clearError(d.querySelector(".error"));
        d.showModal();
    });
    for (const d of document.querySelectorAll("dialog")) {
        d.addEventListener("close", () => {
            if (opener?.isConnected)
                opener.focus();
        });
        d.querySelector(".cancel")?.addEventListener("click", () => d.close());
        const form = d.querySelector("form");
        form.addEventListener("submit", async (ev) => {
            ev.preventDefault();
            const error = d.querySelector(".error");
            clearError(error);
            const data = new FormData(form);
            let rotated = null;
            try {
                await busy(form, async () => {
                    if (d.id === "rename-dialog") {
                        await call("PATCH", `/v1/keys/${key}`, { displayName: String(data.get("displayName")).trim() });
                    }
                    else if (d.id === "rotate-dialog") {
                        rotated = (await call("POST", `/v1/keys/${key}:rotate`, { gracePeriod: String(data.get("gracePeriod")) })).apiKey;
                    }
                    else {
                        await call("DELETE", `/v1/keys/${key}`);
                    }
                });
            }
            catch (err) {
                showError(error, err);
                return;
            }
            opener = null; // drawn again below
            d.close();
            await load();
            if (d.id === "rename-dialog") {
                say("Key renamed.");
                document.querySelector(`button[data-dialog=rename][data-key="${key}"]`)?.focus();
            }
            else if (rotated) {
                const k = rotated;
                showSecret(k, "the rotated key “" + k.displayName + "”");
            }
            else {
                say("Key revoked: it is refused from now on.");
                byId("keys-heading").focus();
            }
        });
    }
}
