// The audit log: failed attempts first (wrong keys, failed sign-ins),
// with the account's other events a switch away.
import { call } from "./api.js";
import { byId, el, keyID, showError, when } from "./ui.js";
const failed = new Set(["auth.failed", "signin.failed", "sign_in_failed"]);
export async function auditPage() {
    const error = byId("audit-error");
    const all = byId("audit-all");
    const events = [];
    const draw = () => {
        const shown = all.checked ? events : events.filter((e) => failed.has(e.kind));
        byId("audit-body").replaceChildren(...shown.map((e) => el("tr", {}, el("td", { "data-label": "Time" }, when(e.time)), el("td", { "data-label": "Event" }, e.kind), el("td", { "data-label": "Reason" }, e.reason || "—"), el("td", { class: "mono", "data-label": "Client address" }, e.clientAddress || "—"), el("td", { class: "mono", "data-label": "Key" }, e.key ? keyID(e.key) : "—"))));
        byId("audit-empty").hidden = shown.length > 0;
    };
    all.addEventListener("change", draw);
    try {
        let token = "";
        for (let i = 0; i < 10; i++) {
            const r = await call("GET", `/v1/audit-events?pageSize=100${token ? "&pageToken=" + encodeURIComponent(token) : ""}`);
            events.push(...r.auditEvents);
            token = r.nextPageToken;
            if (!token)
                break;
        }
        draw();
    }
    catch (err) {
        showError(error, err);
    }
}
