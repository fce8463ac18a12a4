// Usage for the current period: credits used and left, charts by day and
// by operation, and the ledger.
import { call } from "./api.js";
import { barChart } from "./chart.js";
import { byId, el, keyID, showError, when } from "./ui.js";
// The ledger is read in pages; the charts need the whole period's, which
// a free plan's 50 credits keep short. Past maxPages the charts say so.
const pageSize = 100;
const maxPages = 20;
export async function usagePage() {
    const error = byId("usage-error");
    try {
        const first = await call("GET", `/v1/usage?pageSize=${pageSize}`);
        const entries = [...first.entries];
        let token = first.nextPageToken;
        for (let i = 1; token && i < maxPages; i++) {
            const next = await call("GET", `/v1/usage?pageSize=${pageSize}&pageToken=${encodeURIComponent(token)}`);
            entries.push(...next.entries);
            token = next.nextPageToken;
        }
        summary(first);
        charts(first, entries, token !== "");
        ledger(entries);
    }
    catch (err) {
        showError(error, err);
    }
}
function summary(u) {
    byId("plan").textContent = u.plan;
    // Periods are calendar months in UTC: the first and last day, in UTC.
    const day = (t) => new Date(t).toLocaleDateString(undefined, { timeZone: "UTC", dateStyle: "medium" });
    byId("period").textContent = `${day(Date.parse(u.periodStart))} to ${day(Date.parse(u.periodEnd) - 1)}`;
    byId("credits-used").textContent = String(u.creditsUsed);
    byId("credits-left").textContent = String(u.creditsRemaining);
    byId("credits-granted").textContent = String(u.creditsGranted);
    const meter = byId("credits-meter");
    meter.max = Math.max(1, u.creditsGranted);
    meter.value = Math.min(u.creditsUsed, meter.max);
    meter.low = meter.max * 0.7;
    meter.high = meter.max * 0.9;
    meter.optimum = 0;
    meter.textContent = `${u.creditsUsed} of ${u.creditsGranted}`;
}
/** spent is what an entry costs in the end: a charge not refunded. */
function spent(e) {
    return e.kind === "charge" && e.state !== "refunded" ? e.credits : 0;
}
function charts(u, entries, partial) {
    const start = new Date(u.periodStart);
    const end = new Date(u.periodEnd);
    const days = [];
    const index = new Map();
    for (let d = new Date(start); d < end; d.setUTCDate(d.getUTCDate() + 1)) {
        index.set(d.toISOString().slice(0, 10), days.length);
        days.push({ label: String(d.getUTCDate()), value: 0 });
    }
    const ops = new Map([["enhance", 0], ["upscale", 0], ["colorize", 0]]);
    for (const e of entries) {
        const n = spent(e);
        if (!n)
            continue;
        const i = index.get(e.time.slice(0, 10));
        if (i !== undefined)
            days[i].value += n;
        ops.set(e.operation, (ops.get(e.operation) ?? 0) + n);
    }
    const byOp = [...ops].map(([label, value]) => ({ label, value }));
    byId("chart-day").replaceChildren(barChart(days, `Credits used by day (UTC) this period: ${days.filter((d) => d.value).map((d) => `day ${d.label}: ${d.value}`).join(", ") || "none"}`));
    byId("chart-op").replaceChildren(barChart(byOp, `Credits used by operation this period: ${byOp.map((b) => `${b.label}: ${b.value}`).join(", ")}`));
    byId("op-table").replaceChildren(...byOp.map((b) => el("tr", {}, el("th", { scope: "row" }, b.label), el("td", {}, String(b.value)))));
    byId("charts-partial").hidden = !partial;
}
function ledger(entries) {
    byId("ledger-body").replaceChildren(...entries.map((e) => el("tr", {}, el("td", { "data-label": "Time" }, when(e.time)), el("td", { "data-label": "Entry" }, e.kind + (e.state ? ` (${e.state})` : "") + (e.reason ? `: ${e.reason}` : "")), el("td", { "data-label": "Operation" }, e.operation), el("td", { class: "num", "data-label": "Credits" }, String(e.credits)), el("td", { class: "mono", "data-label": "Key" }, e.key ? keyID(e.key) : "—"), el("td", { class: "mono", "data-label": "Request id" }, e.requestId))));
    byId("ledger-empty").hidden = entries.length > 0;
}
