// Uploading (the Upload buttons and status in "Files") and the outbox. A file is sealed into the outbox first (every block
// encrypted and kept in this browser), then uploaded from there: once staged, closing the
// tab loses nothing (the worker, or the next visit, finishes the upload). Leaving while the
// file is still being read and encrypted would lose it, so the page asks first.
import { el, formatSize, setText, shortId } from "./dom.js";
import { ERRORS } from "../meshkit.js";  // Core's error registry, from the package

const JOB_STATES = {
  staging: "encrypting…", queued: "waiting to upload", uploading: "uploading", retrying: "will retry",
  done: "uploaded", failed: "stopped",
};
const WHY_WAITING = {
  rate_limited: "the gateway asks for a pause (too many requests)",
  policy_unavailable: "a policy provider is not answering",
  unavailable: "the gateway cannot be reached",
};
// how far an upload is, in words people use (its blocks are an implementation detail)
const percent = (job) => `${job.blocks ? Math.floor(100 * (job.sent || 0) / job.blocks) : 0}%`;
const errorText = (error) => (ERRORS[error.code] && ERRORS[error.code].message) || error.message;

// A dropped folder's files, each with its path inside the drop (webkitGetAsEntry: every
// engine has it); bounded, so a huge tree cannot hang the page.
const MAX_DROPPED = 2000;
async function droppedFiles(dataTransfer) {
  const entries = [...(dataTransfer.items || [])].map((item) => item.webkitGetAsEntry && item.webkitGetAsEntry()).filter(Boolean);
  if (!entries.length) return [...(dataTransfer.files || [])];
  const out = [];
  async function walk(entry, path) {
    if (out.length >= MAX_DROPPED) return;
    if (entry.isFile) {
      const file = await new Promise((resolve) => entry.file(resolve, () => resolve(null)));
      if (file) out.push(Object.assign(file, { folder: path }));
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {  // readEntries answers in batches until an empty one
        const batch = await new Promise((resolve) => reader.readEntries(resolve, () => resolve([])));
        if (!batch.length || out.length >= MAX_DROPPED) break;
        for (const child of batch) await walk(child, path ? `${path}/${entry.name}` : entry.name);
      }
    }
  }
  for (const entry of entries) await walk(entry, "");
  return out;
}
// the folder a picked file sits in, inside the picked folder ("" for single files)
const folderOf = (file) => file.folder !== undefined ? file.folder
  : (file.webkitRelativePath || "").split("/").slice(0, -1).join("/");

export function sealView(meshkit, { state, guarded, say, showError, onChange, onSealed }) {
  const fileInput = el("input", { type: "file", id: "file-input", testid: "file-input", class: "visually-hidden",
    multiple: true, "aria-label": "Choose files to encrypt", tabindex: "-1" });  // the Upload button is the control people use
  const folderInput = el("input", { type: "file", testid: "folder-input", class: "visually-hidden", webkitdirectory: true,
    "aria-label": "Choose a folder to encrypt", tabindex: "-1" });
  const dropZone = el("button", { type: "button", testid: "drop-zone", onclick: () => fileInput.click() }, "Upload files");
  const folderButton = el("button", { type: "button", class: "secondary", testid: "upload-folder",
    onclick: () => folderInput.click() }, "Upload a folder");
  const recipientList = el("fieldset", { class: "recipients", testid: "recipients" });
  const sealProgress = el("progress", { max: "1", value: "0", testid: "seal-progress", "aria-label": "Upload progress" });
  const sealStatus = el("span", { class: "status", testid: "seal-status" });
  let staging = false;      // reading and encrypting: leaving now loses the file
  let uploading = null;     // {job, name}: the upload this card follows
  // the worker uploads even with every tab closed (where Background Sync is there and
  // permitted: the capability report says); without it, the next visit does
  const background = () => !!meshkit.background && meshkit.background.mode === "service-worker";

  // Files wait their turn: one is read and encrypted at a time, none is dropped. One loop
  // drains the queue (a file picked while another finishes joins it, never a second loop).
  const waiting = [];
  let draining = false;
  function sealFiles(files) {
    waiting.push(...[...(files || [])].filter((file) => file && file.size !== undefined));
    if (!draining) drain();
  }
  async function drain() {
    draining = true;
    try {
      while (waiting.length) {
        await sealFile(waiting.shift());
        if (waiting.length) setText(sealStatus, `${waiting.length} more waiting…`);
      }
    } finally {
      draining = false;
    }
  }

  async function sealFile(file) {
    if (!file) return;
    if (!state.current) return showError({ code: "unknown_identity", message: "" }, "Create your account first");
    const to = [...recipientList.querySelectorAll("input:checked")].map((box) => box.value);
    staging = true;  // the Upload button stays usable (and focused): more files queue behind this one
    sealProgress.value = 0;
    setText(sealStatus, `Encrypting ${file.name}…`);
    const env = await guarded(`Encrypting ${file.name}`, () => meshkit.seal(file, { from: state.current, to, name: file.name,
      mode: "resumable", onProgress: (done, total) => {
        sealProgress.max = total || 1;
        sealProgress.value = total ? done : 1;
        sealStatus.textContent = `Encrypting: ${formatSize(done)} of ${formatSize(total)}`;
      } }));
    staging = false;
    fileInput.value = "";
    if (env && onSealed) onSealed(env, folderOf(file));
    if (!env) {
      sealStatus.textContent = "Failed";
      return;
    }
    if (!env.job) {  // uploaded straight away (this browser could not keep it staged)
      sealStatus.textContent = "Done";
      say(`Encrypted and uploaded “${env.name}”.`);
      return onChange();
    }
    uploading = { job: env.job, name: env.name };
    sealProgress.value = 0;
    sealStatus.textContent = "Uploading…";
    const why = navigator.onLine ? WHY_WAITING[env.queued_because] : "this device is offline";
    say(`Encrypted “${env.name}”` + (why ? `; ${why}, so it waits in the outbox.` : "; uploading.") +
      (background() ? " You can close this page: the upload goes on in the background."
        : " If you close this page, the upload goes on the next time you open MeshKit."));
    await onChange();
    const job = await meshkit.jobs.get(env.job).catch(() => null);
    if (job) jobChanged(job);  // it may have finished while we looked away
  }

  // the job this card follows, as the uploader reports it
  function jobChanged(job) {
    if (!uploading || job.id !== uploading.job) return;
    sealProgress.max = job.blocks || 1;
    sealProgress.value = job.sent || 0;
    if (job.state === "done") {
      sealProgress.value = sealProgress.max;
      sealStatus.textContent = "Done";
      say(`Encrypted and uploaded “${uploading.name}”.`);
      uploading = null;
    } else if (job.state === "failed") {
      sealStatus.textContent = "Stopped";
      showError(job.error || { code: "internal", message: "" }, `Uploading ${uploading.name}`);
      uploading = null;
    } else if (!navigator.onLine) {
      sealStatus.textContent = "Waiting: this device is offline; the upload starts when it is back online";
    } else if (job.state === "retrying" && job.error) {
      setText(sealStatus, `Waiting: ${WHY_WAITING[job.error.code] || errorText(job.error)}`);
    } else {
      sealStatus.textContent = `Uploading: ${percent(job)}`;
    }
  }

  fileInput.addEventListener("change", () => { sealFiles(fileInput.files); fileInput.value = ""; });
  folderInput.addEventListener("change", () => { sealFiles(folderInput.files); folderInput.value = ""; });
  window.addEventListener("beforeunload", (event) => {
    if (staging) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
  // Files dropped anywhere in the window are encrypted, every one of them; a drop never
  // navigates away (the browser would open the file in place of the app). Pasted files too.
  const carriesFiles = (event) => event.dataTransfer && [...event.dataTransfer.types].includes("Files");
  for (const name of ["dragenter", "dragover"]) {
    window.addEventListener(name, (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      document.body.classList.add("drop-anywhere");
      dropZone.classList.add("over");
    });
  }
  const dragEnded = () => { document.body.classList.remove("drop-anywhere"); dropZone.classList.remove("over"); };
  window.addEventListener("dragleave", (event) => { if (!event.relatedTarget) dragEnded(); });
  window.addEventListener("drop", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    dragEnded();
    droppedFiles(event.dataTransfer).then(sealFiles);
  });
  window.addEventListener("paste", (event) => {
    const files = event.clipboardData ? event.clipboardData.files : null;
    if (!files || !files.length || (event.target instanceof Element && event.target.closest("input, textarea"))) return;
    event.preventDefault();
    sealFiles(files);
  });

  // the upload controls live in "Files" (its toolbar); who else it is encrypted for folds away
  const buttons = el("span", { class: "upload-buttons" }, dropZone, folderButton, fileInput, folderInput);
  const status = el("div", { class: "row upload-status", testid: "upload-status" }, sealProgress, sealStatus);
  const options = el("details", { class: "upload-options", testid: "upload-options" },
    el("summary", {}, "Encrypt new uploads for other people too"),
    el("p", { class: "hint" }, "Chosen people can open the files you upload next, for good: this cannot be taken back. " +
      "To give access you can stop, share a file from its details instead."),
    recipientList);

  function renderRecipients() {
    recipientList.replaceChildren(el("legend", {}, "Also encrypt for (you always can open your files)"));
    if (!state.contacts.length) recipientList.append(el("p", { class: "hint" }, "No contacts yet: add one under “Contacts” first."));
    for (const person of state.contacts) {
      const box = el("input", { type: "checkbox", value: person.id, id: "to-" + person.id });
      recipientList.append(el("label", { class: "check", for: "to-" + person.id }, box, ` ${person.accountName || person.name} `,
        el("code", {}, shortId(person.accountFingerprint || person.fingerprint))));
    }
  }

  // --- the outbox: uploads waiting, running or stopped -----------------------------------
  const jobList = el("ul", { class: "jobs", testid: "jobs" });
  const outboxCard = el("section", { class: "card", "aria-labelledby": "outbox-h", testid: "outbox" },
    el("h2", { id: "outbox-h" }, "Outbox"), jobList);

  function jobRow(job) {
    const error = job.error ? errorText(job.error) : "";
    const actions = job.state === "failed" || job.state === "retrying" ? el("div", { class: "share" },
      job.error && job.error.code !== "interrupted" ? el("button", { type: "button", testid: "job-retry",
        onclick: () => guarded(`Retrying ${job.name}`, () => meshkit.jobs.retry(job.id)) }, "Retry now") : null,
      el("button", { type: "button", class: "danger", testid: "job-discard",
        onclick: () => guarded(`Discarding ${job.name}`, () => meshkit.jobs.discard(job.id)) }, "Discard")) : null;
    return el("li", { testid: "job-row", "data-job": job.id, "data-state": job.state },
      el("div", {}, el("strong", {}, job.name), " ", el("span", { class: "badge" + (job.state === "failed" ? " warn" : ""),
        testid: "job-state" }, JOB_STATES[job.state] || job.state)),
      el("progress", { max: String(job.blocks || 1), value: String(job.sent || 0), "aria-label": `Upload of ${job.name}` }),
      el("small", {}, `${formatSize(job.size)} · ${percent(job)} sent`,
        job.state === "retrying" && job.next_attempt ? ` · next try ${new Date(job.next_attempt * 1000).toLocaleTimeString()}` : ""),
      error ? el("p", { class: "job-error", testid: "job-error" }, error, el("span", { class: "code" }, ` (${job.error.code})`)) : null,
      actions);
  }

  async function renderJobs() {
    const jobs = (await guarded("Listing the outbox", () => meshkit.jobs.list(), { background: true }) || [])
      .filter((job) => job.state !== "done");  // finished: the file is in "Files"
    outboxCard.hidden = !jobs.length;
    jobList.replaceChildren(...jobs.map(jobRow));
  }

  return { buttons, status, options, outboxCard, renderRecipients, renderJobs, jobChanged };
}
