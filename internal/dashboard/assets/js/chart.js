// A bar chart as SVG, drawn from data the page also shows as a table:
// the chart is for the eye, the table (and the chart's label) for screen
// readers. No library: a few rectangles.
const svgNS = "http://www.w3.org/2000/svg";
function svg(tag, attrs, text) {
    const e = document.createElementNS(svgNS, tag);
    for (const [k, v] of Object.entries(attrs))
        e.setAttribute(k, String(v));
    if (text !== undefined)
        e.textContent = text;
    return e;
}
/** barChart draws bars with their labels under them and values over them. */
export function barChart(bars, label) {
    const width = Math.max(240, bars.length * 24 + 16);
    const height = 180;
    const top = 20, bottom = 28, left = 8;
    const max = Math.max(1, ...bars.map((b) => b.value));
    const step = (width - left * 2) / Math.max(1, bars.length);
    // Drawn at its own size, shrunk (never stretched) to fit a phone.
    const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": label, class: "chart" });
    root.append(svg("title", {}, label));
    root.append(svg("line", { x1: left, x2: width - left, y1: height - bottom, y2: height - bottom, class: "axis" }));
    bars.forEach((b, i) => {
        const h = ((height - top - bottom) * b.value) / max;
        const x = left + i * step + step * 0.15;
        const w = step * 0.7;
        const y = height - bottom - h;
        root.append(svg("rect", { x, y, width: w, height: Math.max(h, b.value > 0 ? 1 : 0), class: "bar" }));
        if (b.value > 0)
            root.append(svg("text", { x: x + w / 2, y: y - 4, "text-anchor": "middle", class: "value" }, String(b.value)));
        // Every label when there are few bars, every seventh when there are many.
        if (bars.length <= 8 || i % 7 === 0) {
            root.append(svg("text", { x: x + w / 2, y: height - bottom + 16, "text-anchor": "middle", class: "label" }, b.label));
        }
    });
    return root;
}
