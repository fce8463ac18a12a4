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
  wireSignOut();
  void pages[page]?.();
}
