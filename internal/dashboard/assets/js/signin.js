// Sign in: a cookie session, then on to where the visitor was going.
import { signIn } from "./api.js";
import { busy, byId, clearError, showError } from "./ui.js";
export function signinPage() {
    const form = byId("signin-form");
    const error = byId("signin-error");
    form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        clearError(error);
        const data = new FormData(form);
        try {
            await busy(form, () => signIn(String(data.get("email")), String(data.get("password"))));
        }
        catch (err) {
            showError(error, err);
            return;
        }
        // Only a path of ours: never an address someone put in the link.
        const next = new URLSearchParams(location.search).get("next") ?? "";
        location.assign(/^\/dashboard\/[a-z]+$/.test(next) ? next : "/dashboard/keys");
    });
}
