// Send links: "Someone sent you a file" for a visitor who holds a link (#send=…), with no
// account needed; and, for the sender, the link maker under each envelope. The link's
// secret stays in the fragment (never sent to a server) and leaves the address bar at once.
import { el, formatSize, saveBlob, shortId } from "./dom.js";

const PARAM = "send";

export function receivedView(meshkit, { guarded, say }) {
  const what = el("p", { testid: "sent-what" }, "It opens here, no account needed. Nothing is opened until you " +
    "press the button, and if the sender allowed only a few opens, each press counts as one.");
  const progress = el("progress", { max: "1", value: "0", testid: "sent-progress", "aria-label": "Download progress" });
  const button = el("button", { type: "button", testid: "sent-download" }, "Open and save");
  const card = el("section", { class: "card wide first-step", "aria-labelledby": "sent-h", testid: "sent", hidden: true },
    el("h2", { id: "sent-h" }, "Someone sent you a file"), what,
    el("p", { class: "hint" }, "It was encrypted on the sender's device and is decrypted here, in this page: " +
      "the server in between only ever had encrypted blocks."),
    el("div", { class: "row" }, button, progress));
  let link = null;

  function offer() {
    if (!new URLSearchParams(location.hash.slice(1)).has(PARAM)) return;
    link = location.href;
    history.replaceState(null, "", location.pathname);  // the secret out of the address bar
    card.hidden = false;
    button.disabled = false;
  }

  button.addEventListener("click", () => guarded("Opening the link", async () => {
    button.disabled = true;
    const opened = await meshkit.sendLinks.open(link, { onProgress: (done, total) => {
      progress.max = total || 1;
      progress.value = total ? done : 1;
    } }).finally(() => { button.disabled = false; });
    what.replaceChildren(el("strong", { testid: "sent-name" }, opened.name || "A file"), ` (${formatSize(opened.size)}), `,
      "from ", el("code", { title: opened.sender }, shortId(opened.sender)));
    saveBlob(opened.blob, opened.saveAs || "meshkit-download");
    progress.value = progress.max;
    say(`Downloaded “${opened.name || opened.saveAs}”, every block verified.`);
  }));

  return { card, offer };
}

// Under an envelope: make a send link (with the chosen expiry and number of opens), copy it,
// or stop it.
export function sendLinkControls(meshkit, env, { state, guarded, say, expiry }) {
  const opens = el("select", { "aria-label": "The link opens", testid: "link-opens" },
    el("option", { value: "1" }, "once"), el("option", { value: "5" }, "5 times"), el("option", { value: "" }, "any number of times"));
  const out = el("input", { type: "text", readonly: true, class: "record-out", testid: "link-out", hidden: true,
    "aria-label": `Send link for ${env.name}` });
  const stop = el("button", { type: "button", class: "danger", testid: "link-stop", hidden: true }, "Stop link");
  const make = el("button", { type: "button", testid: "link-make", onclick: () => guarded(`Making a link for ${env.name}`, async () => {
    const made = await meshkit.sendLinks.create(env.root, { from: state.current, expires: expiry.value || undefined,
      opens: opens.value ? Number(opens.value) : undefined });
    out.value = made.link;
    out.hidden = false;
    out.select();
    stop.hidden = false;
    stop.onclick = () => guarded("Stopping the link", async () => {
      await meshkit.sendLinks.revoke(made.capsule, { from: state.current });
      out.hidden = stop.hidden = true;
      say(`The link for “${env.name}” no longer opens.`);
    });
    const copied = await navigator.clipboard.writeText(made.link).then(() => true, () => false);
    say(`${copied ? "Link copied" : "Copy the link below"}: whoever has it can download “${env.name}”` +
      (made.opens ? ` (${made.opens === 1 ? "once" : made.opens + " times"})` : "") +
      (made.expires ? `, until ${new Date(made.expires * 1000).toLocaleString()}` : "") + ". Send it only to them.");
  }) }, "Make a send link");
  return el("div", { class: "share", testid: "send-link" },
    el("span", { class: "hint" }, "Or a link for anyone (no account needed), that opens"), opens, make, out, stop);
}
