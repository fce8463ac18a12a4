// The dashboard end to end in headless Chromium (Debian's, driven by
// playwright-core), against a real server: register, sign in, create a
// key, use it from here against /v1/enhance, see the usage go up, rotate
// and revoke it and see it refused, try an image, read the audit log,
// sign out. axe-core checks every page for serious or critical
// violations; a page that breaks its Content-Security-Policy or logs an
// error fails. Run by cmd/enhanced/dashboard_test.go, which starts the
// server and sets:
//   ENHANCE_BASE         the server's https://localhost:port
//   ENHANCE_EMAIL        the account to register
//   ENHANCE_IMAGES       testdata/images
//   NODE_EXTRA_CA_CERTS  the development CA, for this script's own calls
//   ENHANCE_SCREENSHOTS  optional: a folder for <page>-desktop.png and <page>-phone.png
// It prints one line per step and, last, "RESULT <json>" for the Go test;
// on a failure, what the page showed and the API's last answers.
import { readFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const base = must("ENHANCE_BASE");
const email = must("ENHANCE_EMAIL");
const images = must("ENHANCE_IMAGES");
const shots = process.env.ENHANCE_SCREENSHOTS ?? "";
const password = "a long dashboard passphrase";
const desktop = { width: 1280, height: 800 };
const phone = { width: 390, height: 844 };

function must(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

function check(cond, what) {
  if (!cond) throw new Error("check failed: " + what);
}

// Seconds since the start on each step: a slow machine shows in the log.
const started = Date.now();
function step(what) {
  console.log(`step: ${((Date.now() - started) / 1000).toFixed(1)} s: ${what}`);
}

// The flags from ../shared/docs/toolchain.md; the development CA is not
// in Chromium's store, so its certificate errors are ignored (the page
// is still a secure context, so Secure and __Host- cookies work).
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const result = { axe: {}, screenshots: [] };
// Generous waits: Chromium and the server share a loaded 2-core machine
// with other tests. Every wait below is for something the page shows, so
// a longer timeout only delays a real failure. The Go test allows more
// than any one of these, so that a timeout here is reported with explain().
const patience = 2 * 60_000;
// The API's last answers the page got, for explain().
const answers = [];
const heard = (line) => {
  answers.push(`${new Date().toISOString()} ${line}`);
  if (answers.length > 20) answers.shift();
};
let page;
try {
  const context = await browser.newContext({ viewport: desktop, ignoreHTTPSErrors: true });
  context.setDefaultTimeout(patience);
  context.setDefaultNavigationTimeout(patience);
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
  page = await context.newPage();
  page.on("response", (r) => {
    const u = new URL(r.url());
    if (u.pathname.startsWith("/v1/")) heard(`${r.status()} ${r.request().method()} ${u.pathname}${u.search} ${r.headers()["x-request-id"] ?? ""}`);
  });
  page.on("requestfailed", (r) => heard(`failed ${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
  const problems = [];
  page.on("console", (m) => {
    // A refused call (401, 404) is logged by Chromium as a failed resource:
    // the tests make such calls on purpose. Anything else is a bug.
    if (m.type() === "error" && !/Failed to load resource/.test(m.text())) problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(String(e)));
  const noProblems = (where) => {
    check(problems.length === 0, `${where}: console errors or CSP violations: ${problems.join(" | ")}`);
  };

  // axe-core: no serious or critical violation. It is evaluated through
  // the DevTools protocol, which the page's CSP does not govern.
  const axe = async (name) => {
    await page.evaluate(axeSource);
    const r = await page.evaluate(async () => {
      // eslint-disable-next-line no-undef
      const out = await axe.run(document, { resultTypes: ["violations"] });
      return out.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 3) }));
    });
    const bad = r.filter((v) => v.impact === "serious" || v.impact === "critical");
    result.axe[name] = r.map((v) => `${v.id} (${v.impact})`);
    check(bad.length === 0, `${name}: axe found ${JSON.stringify(bad)}`);
  };
  const shoot = async (name) => {
    if (!shots) return;
    mkdirSync(shots, { recursive: true });
    for (const [label, size] of [["desktop", desktop], ["phone", phone]]) {
      await page.setViewportSize(size);
      const file = join(shots, `${name}-${label}.png`);
      await page.screenshot({ path: file, fullPage: true });
      result.screenshots.push(file);
    }
    await page.setViewportSize(desktop);
  };
  const usageNumbers = async () => {
    await page.goto(base + "/dashboard/usage");
    await page.locator("#credits-used").filter({ hasNotText: "…" }).waitFor();
    const used = Number(await page.locator("#credits-used").textContent());
    const left = Number(await page.locator("#credits-left").textContent());
    const rows = await page.locator("#ledger-body tr").count();
    return { used, left, rows };
  };
  // The script's own calls, as a client program would make them.
  const jpeg = readFileSync(join(images, "kodim23.jpg"));
  const enhance = async (key) => {
    const r = await fetch(base + "/v1/enhance?outputFormat=jpeg", {
      method: "POST", body: jpeg, headers: { "x-api-key": key, "Content-Type": "image/jpeg" },
    });
    const body = r.ok ? null : await r.json();
    return { status: r.status, charged: r.headers.get("x-credits-charged"), code: body?.code };
  };

  step("a visitor who is not signed in is sent to sign in");
  await page.goto(base + "/dashboard/keys");
  await page.waitForURL(/\/dashboard\/signin\?next=/);
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await axe("signin");
  await shoot("signin");

  step("keyboard: the first Tab reaches the skip link, and focus is visible");
  await page.keyboard.press("Tab");
  const focus = await page.evaluate(() => {
    const e = document.activeElement;
    const s = getComputedStyle(e);
    return { text: e.textContent, outline: s.outlineStyle, width: s.outlineWidth };
  });
  check(focus.text === "Skip to content" && focus.outline !== "none" && focus.width !== "0px", "visible focus: " + JSON.stringify(focus));

  step("a slow link: nothing can be pressed before the page's script is ready");
  // main.js is held back: the page shows, its handlers do not exist yet.
  const sent = [];
  page.on("request", (r) => sent.push(r.url()));
  let release;
  const held = new Promise((resolve) => (release = resolve));
  await page.route("**/dashboard/assets/js/main.js", async (r) => { await held; await r.continue(); });
  await page.goto(base + "/dashboard/signin", { waitUntil: "commit" });
  const signinButton = page.getByRole("button", { name: "Sign in" });
  await signinButton.waitFor();
  check(await signinButton.isDisabled(), "Sign in is disabled until the script is ready");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("typed before the script came");
  await page.getByLabel("Password").press("Enter");
  release();
  await page.locator("#signin-form button:enabled").waitFor();
  await page.unroute("**/dashboard/assets/js/main.js");
  check(!sent.some((u) => u.includes("password")), "the browser did not send the form itself: " + sent.filter((u) => u.includes("password")));
  check(new URL(page.url()).pathname === "/dashboard/signin", "still on the sign-in page: " + page.url());

  step("register");
  await page.getByRole("link", { name: "Register" }).click();
  await page.getByRole("heading", { name: "Register" }).waitFor();
  await axe("register");
  await shoot("register");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByLabel("Password again").fill(password);
  await page.getByRole("button", { name: "Register" }).click();
  await page.getByRole("heading", { name: "Copy your new key now" }).waitFor();
  const firstKey = await page.getByLabel("Secret", { exact: true }).inputValue();
  check(/^sie_[A-Za-z0-9_]+$/.test(firstKey), "the first key is shown once: " + firstKey.slice(0, 8));
  const cookies = await context.cookies(base);
  const session = cookies.find((c) => c.name === "__Host-enhance-session");
  check(session && session.httpOnly && session.secure && session.sameSite === "Strict", "HttpOnly, Secure, SameSite=Strict session cookie");
  check(!(await page.evaluate(() => document.cookie)).includes("ses_"), "scripts cannot read the session token");
  noProblems("register");

  step("sign out, and sign in again");
  await page.getByRole("link", { name: "Go to your keys" }).click();
  await page.getByRole("heading", { name: "API keys" }).waitFor();
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/dashboard\/signin/);
  await page.goto(base + "/dashboard/usage");
  await page.waitForURL(/\/dashboard\/signin\?next=%2Fdashboard%2Fusage/);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").filter({ hasText: /email or password/i }).waitFor();
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/dashboard\/usage$/);

  const before = await usageNumbers();
  check(before.used === 0 && before.left === 50, "a new account has used nothing: " + JSON.stringify(before));

  step("create a key");
  await page.goto(base + "/dashboard/keys");
  await page.getByRole("heading", { name: "API keys" }).waitFor();
  await page.locator("#keys-body tr").first().waitFor();
  await page.getByLabel("Name", { exact: true }).fill("e2e key");
  await page.getByRole("checkbox", { name: "usage:read" }).uncheck();
  await page.getByRole("button", { name: "Create key" }).click();
  await page.getByRole("heading", { name: "Copy your new key now" }).waitFor();
  const key = await page.getByLabel("Secret", { exact: true }).inputValue();
  check(/^sie_/.test(key) && key !== firstKey, "a new secret");
  await page.getByRole("button", { name: "Copy" }).click();
  check((await page.evaluate(() => navigator.clipboard.readText())) === key, "Copy puts the key on the clipboard");
  await page.getByRole("row", { name: /e2e key/ }).waitFor();
  await axe("keys");
  await shoot("keys");
  noProblems("keys");

  step("use the key from a program against /v1/enhance");
  const used = await enhance(key);
  check(used.status === 200 && used.charged === "1", "the new key enhances: " + JSON.stringify(used));

  step("the usage goes up");
  const after = await usageNumbers();
  check(after.used === before.used + 1 && after.left === before.left - 1 && after.rows === before.rows + 1,
    `usage ${JSON.stringify(before)} -> ${JSON.stringify(after)}`);
  await page.locator("#chart-day svg").waitFor();
  check((await page.locator("#op-table tr", { hasText: "enhance" }).locator("td").textContent()) === "1", "by operation: enhance 1");
  await axe("usage");
  await shoot("usage");
  noProblems("usage");

  step("rotate the key with no grace period: the old secret is refused, the new one works");
  await page.goto(base + "/dashboard/keys");
  await page.getByRole("button", { name: "Rotate e2e key" }).click();
  const rotate = page.getByRole("dialog", { name: /Rotate e2e key/ });
  await rotate.getByLabel("Grace period for the old secret").selectOption("0s");
  await axe("keys-rotate-dialog");
  await rotate.getByRole("button", { name: "Rotate" }).click();
  await page.getByRole("heading", { name: "Copy your new key now" }).waitFor();
  const rotated = await page.getByLabel("Secret", { exact: true }).inputValue();
  check(rotated !== key && /^sie_/.test(rotated), "rotation shows a new secret");
  const old = await enhance(key);
  check(old.status === 401 && old.code === "UNAUTHENTICATED", "the old secret is refused: " + JSON.stringify(old));
  const fresh = await enhance(rotated);
  check(fresh.status === 200, "the rotated secret works: " + JSON.stringify(fresh));

  step("rename, then revoke: the key is refused");
  await page.getByRole("button", { name: "Rename e2e key" }).click();
  const rename = page.getByRole("dialog", { name: /Rename/ });
  await rename.getByLabel("New name").fill("e2e key renamed");
  await rename.getByRole("button", { name: "Rename" }).click();
  await page.getByRole("row", { name: /e2e key renamed/ }).waitFor();
  await page.getByRole("button", { name: "Revoke e2e key renamed" }).click();
  await page.getByRole("dialog", { name: /Revoke/ }).getByRole("button", { name: "Revoke" }).click();
  await page.getByRole("row", { name: /e2e key renamed/ }).waitFor({ state: "detached" });
  const revoked = await enhance(rotated);
  check(revoked.status === 401 && revoked.code === "UNAUTHENTICATED", "the revoked key is refused: " + JSON.stringify(revoked));
  noProblems("keys after revoke");

  step("try it: enhance an upload and see what it cost");
  await page.getByRole("link", { name: "Try it" }).click();
  await page.getByRole("heading", { name: "Try it" }).waitFor();
  await axe("try");
  await page.getByLabel(/^Image/).setInputFiles(join(images, "bird.png"));
  await page.getByRole("radio", { name: /Upscale/ }).check();
  await page.getByLabel("Scale factor").selectOption("2");
  await page.getByRole("button", { name: "Run" }).click();
  await page.getByRole("heading", { name: "Result" }).waitFor();
  check((await page.locator("#cost").textContent()) === "1", "try-it shows its cost");
  const natural = await page.locator("#after").evaluate((img) => img.naturalWidth);
  check(natural === 576, "the upscaled bird is 576 pixels wide, not " + natural);
  await axe("try-result");
  await shoot("try");
  noProblems("try");

  step("the audit log shows the refused keys");
  await page.getByRole("link", { name: "Audit log" }).click();
  await page.locator("#audit-body tr").first().waitFor();
  const failures = await page.locator("#audit-body tr", { hasText: "auth.failed" }).count();
  check(failures >= 2, "the two refused calls are in the audit log, not " + failures);
  await axe("audit");
  await shoot("audit");
  noProblems("audit");

  step("sign out ends the session");
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/dashboard\/signin/);
  check(!(await context.cookies(base)).some((c) => c.name.startsWith("__Host-enhance")), "both cookies cleared");
  const gone = await fetch(base + "/v1/keys", { headers: { Cookie: `__Host-enhance-session=${session.value}` } });
  check(gone.status === 401, "the old session cookie is refused after sign-out: " + gone.status);

  Object.assign(result, { before, after, failures });
  console.log("RESULT " + JSON.stringify(result));
} catch (err) {
  await explain();
  throw err;
} finally {
  await browser.close();
}

// explain prints where the page was, what it said, and what the API last
// answered it, so that a failure on a CI machine can be read from its log.
async function explain() {
  console.log("FAILED; the page's address:", page?.url() ?? "(no page)");
  if (page) {
    // Bounded: a page that hangs must not hang the report too.
    const shown = await Promise.race([
      page.evaluate(() => ({
        readyState: document.readyState,
        title: document.title,
        alerts: [...document.querySelectorAll("[role=alert]:not([hidden])")].map((e) => e.textContent),
        disabledButtons: [...document.querySelectorAll("button:disabled")].map((e) => e.textContent),
      })),
      new Promise((resolve) => setTimeout(() => resolve("the page did not answer in 10 s"), 10_000)),
    ]).catch((e) => "unreadable: " + e);
    console.log("the page showed:", JSON.stringify(shown));
  }
  console.log("the API's last answers to the page (time, status, method, path, request id):");
  for (const a of answers) console.log("  " + a);
}
