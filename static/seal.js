// "Encrypt and upload" and the outbox. A file is sealed into the outbox first (every block
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
const errorText = (error) => (ERRORS[error.code] && ERRORS[error.code].message) || error.message;

export function sealView(meshkit, { state, guarded, say, showError, onChange }) {
  const fileInput = el("input", { type: "file", id: "file-input", testid: "file-input", class: "visually-hidden",
    multiple: true, "aria-label": "Choose files to encrypt", tabindex: "-1" });  // the drop zone is the control people use
  const dropZone = el("button", { type: "button", class: "drop", testid: "drop-zone",
    onclick: () => fileInput.click() }, el("strong", {}, "Drop files here"),
    el("span", {}, " (or anywhere on the page), paste them, or press to choose"));
  const recipientList = el("fieldset", { class: "recipients", testid: "recipients" });
  const sealProgress = el("progress", { max: "1", value: "0", testid: "seal-progress", "aria-label": "Encrypt and upload progress" });
  const sealStatus = el("span", { class: "status", testid: "seal-status" });
  let staging = false;      // reading and encrypting: leaving now loses the file
  let uploading = null;     // {job, name}: the upload this card follows
  // the worker uploads even with every tab closed (where Background Sync is there and
  // permitted: the capability report says); without it, the next visit does
  const background = () => !!meshkit.background && meshkit.background.mode === "service-worker";

  // Files wait their turn: one is read and encrypted at a time, none is dropped
  const waiting = [];
  function sealFiles(files) {
    waiting.push(...[...(files || [])].filter((file) => file && file.size !== undefined));
    if (!staging) next();
  }
  async function next() {
    const file = waiting.shift();
    if (!file) return;
    await sealFile(file);
    if (waiting.length) setText(sealStatus, `${waiting.length} more waiting…`);
    return next();
  }

  async function sealFile(file) {
    if (!file || staging) return;
    if (!state.current) return showError({ code: "unknown_identity", message: "" }, "Create your account first");
    const to = [...recipientList.querySelectorAll("input:checked")].map((box) => box.value);
    staging = true;
    dropZone.disabled = true;
    sealProgress.value = 0;
    setText(sealStatus, `Encrypting ${file.name}…`);
    const env = await guarded(`Encrypting ${file.name}`, () => meshkit.seal(file, { from: state.current, to, name: file.name,
      mode: "resumable", onProgress: (done, total) => {
        sealProgress.max = total || 1;
        sealProgress.value = total ? done : 1;
        sealStatus.textContent = `Encrypting: ${formatSize(done)} of ${formatSize(total)}`;
      } }));
    staging = false;
    dropZone.disabled = false;
    fileInput.value = "";
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
      sealStatus.textContent = `Uploading: ${job.sent || 0} of ${job.blocks} blocks`;
    }
  }

  fileInput.addEventListener("change", () => { sealFiles(fileInput.files); fileInput.value = ""; });
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
    sealFiles(event.dataTransfer.files);
  });
  window.addEventListener("paste", (event) => {
    const files = event.clipboardData ? event.clipboardData.files : null;
    if (!files || !files.length || (event.target instanceof Element && event.target.closest("input, textarea"))) return;
    event.preventDefault();
    sealFiles(files);
  });

  const sealCard = el("section", { class: "card wide", "aria-labelledby": "seal-h" },
    el("h2", { id: "seal-h" }, "Encrypt and upload"),
    el("p", { class: "hint" }, "The file is encrypted here, in this page; the gateway only ever stores encrypted blocks."),
    recipientList, fileInput, dropZone,
    el("div", { class: "row" }, sealProgress, sealStatus));

  function renderRecipients() {
    recipientList.replaceChildren(el("legend", {}, "Also readable by (you always are)"));
    if (!state.contacts.length) recipientList.append(el("p", { class: "hint" }, "No contacts yet: add one under “Contacts” to encrypt for them too."));
    for (const person of state.contacts) {
      const box = el("input", { type: "checkbox", value: person.id, id: "to-" + person.id });
      recipientList.append(el("label", { class: "check", for: "to-" + person.id }, box, ` ${person.name} `,
        el("code", {}, shortId(person.id))));
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
      el("small", {}, `${formatSize(job.size)} · ${job.sent || 0} of ${job.blocks || "?"} blocks`,
        job.state === "retrying" && job.next_attempt ? ` · next try ${new Date(job.next_attempt * 1000).toLocaleTimeString()}` : ""),
      error ? el("p", { class: "job-error", testid: "job-error" }, error, el("span", { class: "code" }, ` (${job.error.code})`)) : null,
      actions);
  }

  async function renderJobs() {
    const jobs = (await guarded("Listing the outbox", () => meshkit.jobs.list()) || [])
      .filter((job) => job.state !== "done");  // finished: the file is in "My envelopes"
    outboxCard.hidden = !jobs.length;
    jobList.replaceChildren(...jobs.map(jobRow));
  }

  return { card: sealCard, outboxCard, renderRecipients, renderJobs, jobChanged };
}
