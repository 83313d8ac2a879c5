// Opening a file, one routine for "Files" and "Shared with me": Open (the whole file,
// verified, then handed over as a download), Save (streamed by the service worker straight
// to disk: big files never sit in memory), Play (audio and video, streamed and seekable) and
// Preview, only of what the bytes prove, never active content on the app's origin: an image
// as an <img>; a PDF drawn by pdf.js in pdf-view.html, a sandboxed frame with no origin (no
// storage, no network, not the app's page: a PDF can carry script and pdf.js has run it
// before), which gets the PDF's bytes, and nothing else, by postMessage.
import { el, formatSize, saveBlob } from "./dom.js";

const PREVIEW_MAX = 32 << 20;  // previews hold the file in memory: bigger ones are saved instead
export const playable = (type) => /^(audio|video)\//.test(type || "");
export const previewable = (type, size) => /^(image\/(png|jpeg|gif|webp|avif)|application\/pdf)$/.test(type || "")
  && !(size > PREVIEW_MAX);
// the viewer (a release file beside this one) and how long it may take to say it is ready
// (it never does offline: a sandboxed frame is not the service worker's to answer) and to draw
const PDF_VIEW = new URL("./pdf-view.html", import.meta.url).href;
const PDF_READY_MS = 20_000;
const PDF_DRAWN_MS = 120_000;

// What the bytes are, whatever the sender's metadata says: a preview shows only these, under
// the type its bytes prove (never SVG: an image that is a document).
const MAGIC = [
  ["image/png", [0x89, 0x50, 0x4e, 0x47]], ["image/jpeg", [0xff, 0xd8, 0xff]], ["image/gif", [0x47, 0x49, 0x46, 0x38]],
  ["application/pdf", [0x25, 0x50, 0x44, 0x46, 0x2d]],  // "%PDF-"
];
async function sniff(blob) {
  const head = new Uint8Array(await blob.slice(0, 12).arrayBuffer());
  for (const [type, bytes] of MAGIC) if (bytes.every((b, i) => head[i] === b)) return type;
  const riff = String.fromCharCode(...head.slice(0, 4)) === "RIFF" && String.fromCharCode(...head.slice(8, 12)) === "WEBP";
  if (riff) return "image/webp";
  if (String.fromCharCode(...head.slice(4, 12)) === "ftypavif") return "image/avif";
  return "";
}

// What a shown preview or player holds (an object URL, the viewer's message listener), let go
// when it is replaced or its dialog closes.
const held = new WeakMap();
export function clearPreviews(spot) {
  spot.querySelectorAll(".player, .preview, .preview-note").forEach((old) => {
    (held.get(old) || (() => {}))();
    old.remove();
  });
}

// A PDF in the sandboxed viewer: it says "ready", gets the bytes (transferred: a copy of
// them, nothing else; "*" because an opaque origin has no name), answers "rendered" or
// "failed". Only that frame's messages of those shapes are read; a viewer that does not
// answer in time is removed (its script stops with it).
function showPdf(blob, name, spot, say) {
  const frame = el("iframe", { class: "preview pdf-preview", testid: "preview", sandbox: "allow-scripts",
    src: PDF_VIEW, title: `Preview of ${name}`, referrerpolicy: "no-referrer" });
  let sent = false;
  let timer = setTimeout(() => fail(), PDF_READY_MS);
  const stop = () => {
    removeEventListener("message", onMessage);
    clearTimeout(timer);
  };
  const fail = () => {
    stop();
    if (!frame.isConnected) return;  // its dialog or list is gone: nothing to tell
    frame.replaceWith(el("p", { class: "hint preview-note", testid: "preview-failed", role: "status" },
      `“${name}” cannot be previewed here; use Save to read it.`));
    say(`“${name}” cannot be previewed; use Save instead.`);
  };
  async function onMessage(event) {
    const data = event.data;
    if (event.source !== frame.contentWindow || !data || typeof data !== "object") return;
    if (data.type === "ready" && !sent) {
      sent = true;
      clearTimeout(timer);
      timer = setTimeout(() => fail(), PDF_DRAWN_MS);
      const bytes = await blob.arrayBuffer();
      if (frame.contentWindow) frame.contentWindow.postMessage(bytes, "*", [bytes]);  // unless closed meanwhile
    } else if (data.type === "rendered" && sent && Number.isSafeInteger(data.pages) && Number.isSafeInteger(data.total)) {
      stop();
      frame.dataset.pages = String(data.pages);
      say(data.pages < data.total ? `Showing the first ${data.pages} of ${data.total} pages of “${name}”; save it to read them all.`
        : `Showing “${name}” (${data.total} page${data.total === 1 ? "" : "s"}), every block verified.`);
    } else if (data.type === "failed") {
      fail();
    }
  }
  addEventListener("message", onMessage);
  held.set(frame, stop);
  spot.append(frame);
  frame.scrollIntoView({ block: "nearest" });  // on a phone the dialog's actions are all it shows
}

export function opener(meshkit, { state, guarded, say, streaming, onClosed }) {
  const progress = el("progress", { max: "1", value: "0", testid: "open-progress", "aria-label": "Download progress",
    hidden: true });

  async function openBlob(root, name) {
    progress.hidden = false;
    progress.value = 0;
    try {
      return await guarded(`Opening ${name || "the file"}`, () => meshkit.open(root, { as: state.current,
        onProgress: (done, total) => { progress.max = total || 1; progress.value = total ? done : 1; } })
        .catch((error) => {  // closed now (revoked, expired): the inbox shows it from here on
          onClosed(root, error.code);
          throw error;
        }));
    } finally {
      progress.hidden = true;
    }
  }

  async function download(root, name) {
    const opened = await openBlob(root, name);
    if (!opened) return;
    saveBlob(opened.blob, opened.saveAs || name || "meshkit-download");  // the sender's name, made safe by Core
    say(`Opened “${opened.name || name}” (${formatSize(opened.size)}), every block verified.`);
  }

  // a plain navigation, which the worker answers (an attachment: the page stays); its link is
  // one-time and short-lived: minted on the click, used at once
  const save = (root, name) => guarded(`Saving ${name}`, async () => {
    const link = el("a", { href: await meshkit.openUrl(root, { as: state.current, name, download: true }), hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    say(`Saving “${name}”: it is decrypted and checked while it downloads.`);
  });

  // Audio and video play in the page, streamed and seekable: the worker answers the
  // player's Range requests from the segments that hold them (nothing else is decrypted).
  async function play(root, name, type, spot) {
    const url = await guarded(`Playing ${name}`, () => meshkit.openUrl(root, { as: state.current, play: true }));
    if (!url) return;
    clearPreviews(spot);
    const player = el(type.startsWith("audio/") ? "audio" : "video", { class: "player", testid: "player",
      controls: true, preload: "metadata", src: url, "aria-label": `Playing ${name}` });
    // the worker keeps play links in memory: a worker stopped while the player was idle
    // forgot it, so ask for a new one once and go on where the player was
    let renewed = false;
    player.addEventListener("error", async () => {
      if (renewed || !player.error || player.error.code === player.error.MEDIA_ERR_SRC_NOT_SUPPORTED) {
        return say(`“${name}” cannot be played in this browser; use Save instead.`);
      }
      renewed = true;
      const at = player.currentTime;
      const again = await meshkit.openUrl(root, { as: state.current, play: true }).catch(() => null);
      if (!again) return say(`“${name}” stopped playing: open it again.`);
      player.addEventListener("loadedmetadata", () => { player.currentTime = at; }, { once: true });
      player.src = again;
      player.play().catch(() => {});
    });
    spot.append(player);
    player.play().catch(() => {});  // autoplay may be refused: the controls are there
  }

  // An image as an <img> (no script ever runs in one), only under the type its bytes prove,
  // from a blob URL that lives while the preview is shown; a PDF in the viewer (showPdf).
  async function preview(root, name, spot) {
    const opened = await openBlob(root, name);
    if (!opened) return;
    const type = await sniff(opened.blob);
    if (!type) return say(`“${name}” cannot be previewed: its bytes are not an image or a PDF. Save it instead.`);
    clearPreviews(spot);
    if (type === "application/pdf") {
      say(`Drawing “${name}”…`);
      return showPdf(opened.blob, name, spot, say);
    }
    const url = URL.createObjectURL(new Blob([opened.blob], { type }));
    const shown = el("img", { class: "preview", testid: "preview", src: url, alt: `Preview of ${name}` });
    held.set(shown, () => URL.revokeObjectURL(url));
    spot.append(shown);
    say(`Showing “${name}”, every block verified.`);
  }

  return { progress, download, save, play, preview, streaming, openBlob };
}
