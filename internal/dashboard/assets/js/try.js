// Try it: an image through enhance, upscale or colorize with the session,
// shown before and after with what it cost. The server runs the call
// under a key made for it alone and revoked after (never sent here).
import { problem, send } from "./api.js";
import { busy, byId, clearError, say, showError } from "./ui.js";
const urls = [];
function objectURL(b) {
    const u = URL.createObjectURL(b);
    urls.push(u);
    return u;
}
export function tryPage() {
    const form = byId("try-form");
    const error = byId("try-error");
    const op = () => String(new FormData(form).get("operation"));
    // Only the chosen operation's options are shown (and sent).
    const showOptions = () => {
        for (const f of form.querySelectorAll("fieldset[data-for]")) {
            const on = f.dataset.for === op();
            f.hidden = !on;
            f.disabled = !on;
        }
    };
    form.addEventListener("change", showOptions);
    showOptions();
    form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        clearError(error);
        const data = new FormData(form);
        const file = data.get("image");
        if (!(file instanceof File) || file.size === 0) {
            showError(error, new Error("Choose an image file first."));
            return;
        }
        const query = new URLSearchParams();
        for (const [k, v] of data) {
            if (k !== "image" && k !== "operation" && typeof v === "string" && v !== "")
                query.set(k, v);
        }
        const operation = op();
        try {
            const resp = await busy(form, () => send("POST", `/v1/${operation}?${query}`, file, { "Content-Type": file.type || "application/octet-stream" }));
            if (!resp.ok)
                throw await problem(resp);
            const out = await resp.blob();
            urls.splice(0).forEach((u) => URL.revokeObjectURL(u));
            const before = byId("before");
            const after = byId("after");
            before.src = objectURL(file);
            before.alt = `Your upload, ${file.name}`;
            after.src = objectURL(out);
            after.alt = `The ${operation} result, ${resp.headers.get("X-Image-Width")}×${resp.headers.get("X-Image-Height")} pixels`;
            byId("after-size").textContent = `${resp.headers.get("X-Image-Width")}×${resp.headers.get("X-Image-Height")}, ${out.type}`;
            byId("cost").textContent = resp.headers.get("X-Credits-Charged") ?? "?";
            byId("remaining").textContent = resp.headers.get("X-Credits-Remaining") ?? "?";
            byId("steps").textContent = resp.headers.get("X-Enhancement-Steps") ?? "";
            const download = byId("download");
            download.href = after.src;
            download.download = `${file.name.replace(/\.[^.]*$/, "")}.${operation}.${out.type.replace("image/", "").replace("jpeg", "jpg")}`;
            byId("result").hidden = false;
            say(`Done: ${resp.headers.get("X-Credits-Charged")} credit(s) charged, ${resp.headers.get("X-Credits-Remaining")} left.`);
            byId("result-heading").focus();
        }
        catch (err) {
            showError(error, err);
        }
    });
}
