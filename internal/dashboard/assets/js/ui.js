// Small DOM helpers shared by the pages. Text always goes in as text,
// never as HTML, so nothing the API returns can become markup.
import { ApiError, signOut } from "./api.js";
/** el makes an element with attributes and children. */
export function el(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
        if (v === false)
            continue;
        e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) {
        if (c === null || c === undefined || c === false)
            continue;
        e.append(c);
    }
    return e;
}
/** byId returns the page's element with id, which the page must have. */
export function byId(id) {
    const e = document.getElementById(id);
    if (!e)
        throw new Error("missing #" + id);
    return e;
}
/** say announces a message in the page's status region. */
export function say(text) {
    const s = byId("status");
    s.textContent = "";
    // A change of text is what screen readers announce.
    requestAnimationFrame(() => (s.textContent = text));
}
/** showError puts an error next to a form, focused so that it is read. */
export function showError(box, err) {
    let text = err instanceof Error ? err.message : String(err);
    if (err instanceof ApiError && err.requestId)
        text += ` (request id ${err.requestId})`;
    box.textContent = text;
    box.hidden = false;
    box.focus();
}
/** clearError hides an error box. */
export function clearError(box) {
    box.textContent = "";
    box.hidden = true;
}
/** when renders a time for people, or "never"/"—" when there is none. */
export function when(ts, none = "—") {
    if (!ts)
        return none;
    const d = new Date(ts);
    if (isNaN(d.getTime()) || d.getTime() <= 0)
        return none;
    return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}
/** keyID is the id in a key's resource name ("keys/abc" → "abc"). */
export function keyID(name) {
    return name.replace(/^keys\//, "");
}
/** wireSignOut makes the header's sign-out button work. */
export function wireSignOut() {
    const b = document.getElementById("sign-out");
    b?.addEventListener("click", async () => {
        await signOut().catch(() => undefined);
        location.assign("/dashboard/signin");
    });
}
/** busy disables a form's submit button while work runs. */
export async function busy(form, work) {
    const buttons = form.querySelectorAll("button");
    buttons.forEach((b) => (b.disabled = true));
    form.setAttribute("aria-busy", "true");
    try {
        return await work();
    }
    finally {
        buttons.forEach((b) => (b.disabled = false));
        form.removeAttribute("aria-busy");
    }
}
