// Calls to the public REST API with the session cookie. The cookie is
// HttpOnly: this script never sees the session token. State-changing
// calls repeat the CSRF cookie in X-CSRF-Token, which the server checks
// against the cookie (double submit).
/** ApiError is a problem answer (RFC 9457 members plus code and param). */
export class ApiError extends Error {
    status;
    code;
    param;
    requestId;
    constructor(status, code, detail, param, requestId) {
        super(detail);
        this.status = status;
        this.code = code;
        this.param = param;
        this.requestId = requestId;
    }
}
const csrfCookie = "__Host-enhance-csrf";
/** csrfToken is the CSRF cookie's value, "" when signed out. */
export function csrfToken() {
    for (const part of document.cookie.split(";")) {
        const [name, ...rest] = part.trim().split("=");
        if (name === csrfCookie)
            return rest.join("=");
    }
    return "";
}
/** signedIn reports whether the browser holds a session's cookies. */
export function signedIn() {
    return csrfToken() !== "";
}
/** problem reads an error answer into an ApiError. */
export async function problem(resp) {
    let body = {};
    try {
        body = await resp.json();
    }
    catch {
        // Not JSON (a proxy's page): the status says enough.
    }
    return new ApiError(resp.status, body.code ?? "", body.detail ?? `the server answered ${resp.status}`, body.param, body.requestId);
}
/** send makes a call with the cookie and, unless it only reads, the CSRF header. */
export async function send(method, path, body, headers = {}) {
    const h = new Headers(headers);
    if (method !== "GET" && method !== "HEAD")
        h.set("X-CSRF-Token", csrfToken());
    return fetch(path, { method, body, headers: h, credentials: "same-origin", cache: "no-store" });
}
/** call sends JSON and reads JSON; an error answer throws an ApiError. */
export async function call(method, path, body) {
    const resp = await send(method, path, body === undefined ? undefined : JSON.stringify(body), body === undefined ? {} : { "Content-Type": "application/json" });
    if (!resp.ok) {
        const err = await problem(resp);
        if (resp.status === 401 && !location.pathname.endsWith("/signin")) {
            // The session ended: sign in again, then come back here.
            location.assign("/dashboard/signin?next=" + encodeURIComponent(location.pathname));
        }
        throw err;
    }
    return (await resp.json());
}
/** signIn starts a cookie session. */
export async function signIn(email, password) {
    const resp = await fetch("/v1/sessions", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-Session-Cookie": "true" },
        body: JSON.stringify({ email, password }),
    });
    if (!resp.ok)
        throw await problem(resp);
}
/** signOut ends the session; the server clears the cookies. */
export async function signOut() {
    await send("DELETE", "/v1/sessions/current");
}
export const allScopes = ["images:enhance", "images:upscale", "images:colorize", "keys:manage", "usage:read"];
