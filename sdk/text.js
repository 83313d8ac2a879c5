// Names from other people (a sender's file name, a contact's, a device's) as they may be
// shown or saved: the characters of core/text.py (build.py writes them into unsafe.js, the
// one definition the CLI uses too) are never shown as they are. A bidi override would make
// "invoice\u202efdp.exe" read "invoiceexe.pdf"; here it reads "invoice\u202efdp.exe".
// No DOM: the service worker uses it too (download names).
import { UNSAFE_RANGES } from "./unsafe.js";

const hex = (n) => n.toString(16);
const UNSAFE = new RegExp("[" + UNSAFE_RANGES.map(([a, b]) => `\\u{${hex(a)}}-\\u{${hex(b)}}`).join("") + "]", "gu");
const NAMED = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

// One unsafe character as the escape a person can see (as core/text.py's visible()).
function visible(char) {
  if (NAMED[char]) return NAMED[char];
  const code = char.codePointAt(0);
  return code < 0x100 ? "\\x" + hex(code).padStart(2, "0") : code < 0x10000 ? "\\u" + hex(code).padStart(4, "0")
    : "\\U" + hex(code).padStart(8, "0");
}

// Text to show: every unsafe character as a visible escape.
export function shown(text) {
  return String(text ?? "").replace(UNSAFE, visible);
}

// A name to save a download under (for names Core has not made safe already): no unsafe
// characters, no folders, none of the characters Windows refuses, no leading dots.
export function saveName(name, fallback = "download") {
  const text = String(name ?? "").normalize("NFC").split(/[/\\]/).pop().replace(UNSAFE, "")
    .replace(/[<>:"|?*]/g, "_").trim().replace(/^\.+/, "").replace(/[. ]+$/, "");
  return text || fallback;
}
