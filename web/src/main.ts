// The dashboard's one entry point: each page names itself in
// <body data-page>, and this runs its code.
import { signedIn } from "./api.js";
import { auditPage } from "./audit.js";
import { keysPage } from "./keys.js";
import { registerPage } from "./register.js";
import { signinPage } from "./signin.js";
import { tryPage } from "./try.js";
import { wireSignOut } from "./ui.js";
import { usagePage } from "./usage.js";

const pages: Record<string, () => void | Promise<void>> = {
  signin: signinPage,
  register: registerPage,
  keys: keysPage,
  usage: usagePage,
  audit: auditPage,
  try: tryPage,
};

const page = document.body.dataset.page ?? "";
const open = page === "signin" || page === "register";
if (!open && !signedIn()) {
  location.replace("/dashboard/signin?next=" + encodeURIComponent(location.pathname));
} else {
  // Every button comes disabled in the HTML, so that none is pressed
  // before its handler exists: on a slow link the page shows well before
  // its scripts arrive, and then Sign out would do nothing and a form
  // would be sent by the browser itself, its password in the address.
  // Each page wires its handlers before its first await, so they are
  // all in place when the page's function returns.
  const waiting = document.querySelectorAll<HTMLButtonElement>("button:disabled");
  try {
    wireSignOut();
    void pages[page]?.();
  } finally {
    // Even if a page's wiring failed, the buttons that were wired work.
    waiting.forEach((b) => (b.disabled = false));
  }
}
