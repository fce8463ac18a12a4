// Builds the dashboard into internal/dashboard/assets, which the server
// embeds: tsc compiles src/ into js/ (one ES module per file, no bundler:
// browsers load modules), each page in pages/ is set into layout.html,
// and the style sheet is copied. The output depends only on these files
// and the pinned compiler, so `make checkdashboard` can rebuild it and
// compare.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "internal", "dashboard", "assets");
const read = (...p) => readFileSync(join(here, ...p), "utf8");

// Page names, titles and whether the navigation (signed-in pages) shows.
const pages = {
  signin: ["Sign in", false],
  register: ["Register", false],
  keys: ["API keys", true],
  usage: ["Usage", true],
  audit: ["Audit log", true],
  try: ["Try it", true],
};
const navItems = [["keys", "Keys"], ["usage", "Usage"], ["audit", "Audit log"], ["try", "Try it"]];

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
execFileSync(process.execPath, [join(here, "node_modules", "typescript", "bin", "tsc"), "-p", here], { stdio: "inherit" });

const layout = read("layout.html");
const secret = read("secret.html").trimEnd();
for (const file of readdirSync(join(here, "pages")).sort()) {
  const name = file.replace(/\.html$/, "");
  if (!(name in pages)) throw new Error(`pages/${file}: add it to build.mjs's pages`);
  const [title, signedIn] = pages[name];
  const nav = signedIn
    ? `<nav aria-label="Dashboard">\n<ul>\n${navItems
        .map(([p, label]) => `<li><a href="/dashboard/${p}"${p === name ? ' aria-current="page"' : ""}>${label}</a></li>`)
        .join("\n")}\n</ul>\n<button id="sign-out" type="button" class="secondary" disabled autocomplete="off">Sign out</button>\n</nav>`
    : "";
  const main = read("pages", file).trimEnd().replace("%SECRET%", secret);
  const html = layout.replace("%TITLE%", title).replace("%PAGE%", name).replace("%NAV%", nav).replace("%MAIN%", main);
  writeFileSync(join(out, file), html);
}
copyFileSync(join(here, "style.css"), join(out, "style.css"));
