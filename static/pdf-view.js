// The PDF viewer's script: runs ONLY in pdf-view.html, a document with no origin (its CSP:
// sandbox allow-scripts, no network, framed only by the app). pdf.js parses and draws the one
// PDF the parent posts here (its bytes, nothing else) onto canvases. pdf.js is assumed
// exploitable (CVE-2024-4367 ran script from a PDF): whatever runs here reaches no storage, no
// cookie, no network and not the app's page; it can only post the three shapes the app reads.
//
// pdf.js's "fake worker": its parser runs on this document's thread (globalThis.pdfjsWorker),
// not in a Worker: an opaque origin can start a worker only from a blob: URL (worker-src blob:
// would admit any code this document makes), and the worker's module would be fetched unpinned
// by the import map. Nothing of pdf.js's viewer, scripting (pdf.sandbox) or annotation layer is
// loaded: links, forms and a PDF's JavaScript have nothing to run in.
import { AnnotationMode, getDocument } from "./pdfjs/pdf.min.mjs";
import { WorkerMessageHandler } from "./pdfjs/pdf.worker.min.mjs";

const MAX_PAGES = 50;                 // laid out (and drawn when near the view); the rest: "save it"
const MAX_PIXELS = 4096 * 4096;       // one canvas, in device pixels
const MAX_WIDTH = 2048;               // device pixels across, however wide the frame
const MAX_IMAGE = 4096 * 4096;        // pixels of an image inside the PDF (pdf.js skips bigger ones)

globalThis.pdfjsWorker = { WorkerMessageHandler };
// pdf.js paces its drawing by animation frames, and Chromium runs none in a cross-origin frame
// out of view (a phone's dialog below the fold): it would never finish. Paced by tasks instead.
globalThis.requestAnimationFrame = (callback) => setTimeout(() => callback(performance.now()), 0);
globalThis.cancelAnimationFrame = (id) => clearTimeout(id);

const pages = document.getElementById("pages");
// no stylesheet (the policy loads none): styles set through the CSSOM
Object.assign(document.body.style, { margin: "0", background: "#e8ebf0" });
Object.assign(pages.style, { display: "flex", flexDirection: "column", alignItems: "center", gap: "8px", padding: "8px" });

// the app's origin is not ours to know (we have none): what goes out is never secret
const tell = (message) => parent.postMessage(message, "*");

// Pages are laid out at once (their size) and drawn when near this frame's view, one at a
// time; a page scrolled far away gives its pixels back: at most a few canvases hold any.
async function show(buffer) {
  const pdf = await getDocument({
    data: new Uint8Array(buffer), enableXfa: false, disableFontFace: true, useSystemFonts: false, useWasm: false,
    disableAutoFetch: true, disableStream: true, disableRange: true, disableWorkerRendering: true,
    maxImageSize: MAX_IMAGE, canvasMaxAreaInBytes: MAX_PIXELS * 4, verbosity: 0,
  }).promise;
  const count = Math.min(pdf.numPages, MAX_PAGES);
  const across = Math.max(1, Math.min(MAX_WIDTH, Math.ceil((document.documentElement.clientWidth - 16) * devicePixelRatio)));
  const slots = [];
  for (let n = 1; n <= count; n++) {
    const page = await pdf.getPage(n);
    const natural = page.getViewport({ scale: 1 });
    const scale = Math.max(0.01, Math.min(across / natural.width, Math.sqrt(MAX_PIXELS / (natural.width * natural.height))));
    const viewport = page.getViewport({ scale });
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = 0;  // no pixels until it is drawn
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", `Page ${n} of ${pdf.numPages}`);
    Object.assign(canvas.style, { width: `${Math.floor(viewport.width) / devicePixelRatio}px`, maxWidth: "100%",
      aspectRatio: `${Math.floor(viewport.width) || 1} / ${Math.floor(viewport.height) || 1}`, height: "auto",
      background: "#fff", boxShadow: "0 1px 3px rgba(0,0,0,.25)" });
    canvas.dataset.page = String(n);
    pages.append(canvas);
    slots.push({ page, viewport, canvas, near: false, drawn: false });
  }
  if (pdf.numPages > count) {
    const rest = document.createElement("p");
    rest.textContent = `Pages ${count + 1} to ${pdf.numPages} are not shown here: save the file to read them.`;
    Object.assign(rest.style, { font: "14px system-ui, sans-serif", color: "#333", margin: "8px" });
    pages.append(rest);
  }
  let queue = Promise.resolve();
  const draw = (slot) => {
    const done = queue.then(async () => {
      if (!slot.near || slot.drawn) return;
      slot.canvas.width = Math.max(1, Math.floor(slot.viewport.width));
      slot.canvas.height = Math.max(1, Math.floor(slot.viewport.height));
      // annotations' own appearances are drawn (as the page looks); none becomes a link or a field
      await slot.page.render({ canvas: slot.canvas, viewport: slot.viewport, annotationMode: AnnotationMode.ENABLE }).promise;
      slot.drawn = true;
      slot.canvas.dataset.drawn = "";
    });
    queue = done.catch(() => {});  // one page that cannot be drawn stays blank; the next ones are drawn
    return done;
  };
  const first = new Promise((resolve, reject) => {
    const seen = new IntersectionObserver((entries) => entries.forEach((entry) => {
      const slot = slots[Number(entry.target.dataset.page) - 1];
      slot.near = entry.isIntersecting;
      if (slot.near) draw(slot).then(resolve, reject);
      else if (slot.drawn) {  // far away: its pixels go
        slot.drawn = false;
        slot.canvas.width = slot.canvas.height = 0;
        delete slot.canvas.dataset.drawn;
      }
    }), { root: document, rootMargin: "100% 0px" });
    slots.forEach((slot) => seen.observe(slot.canvas));
  });
  await first;  // a PDF whose first page in view cannot be drawn is one that failed
  tell({ type: "rendered", pages: count, total: pdf.numPages });
}

let started = false;
addEventListener("message", (event) => {
  // the parent's one message: the PDF's bytes (transferred); anything else is not ours to read
  if (event.source !== parent || started || !(event.data instanceof ArrayBuffer)) return;
  started = true;
  show(event.data).catch((error) => tell({ type: "failed", reason: String((error && error.name) || "Error").slice(0, 64) }));
});
tell({ type: "ready" });
