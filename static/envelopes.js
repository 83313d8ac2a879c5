// "My envelopes": each file with Open, the worker's streamed Save, sharing, revoking, and who
// can open it; and the one download routine the inbox uses too.
import { el, formatDate, formatSize, saveBlob, shortId } from "./dom.js";
import { sendLinkControls } from "./send.js";

export function envelopesView(meshkit, { state, guarded, say, streaming, onClosed }) {
  const envelopeBody = el("tbody", { testid: "envelopes" });
  const openProgress = el("progress", { max: "1", value: "0", testid: "open-progress", "aria-label": "Download progress" });
  const envelopesCard = el("section", { class: "card wide", "aria-labelledby": "env-h" },
    el("h2", { id: "env-h" }, "My envelopes"),
    el("div", { class: "table-wrap" }, el("table", {},
      el("thead", {}, el("tr", {}, el("th", {}, "Name"), el("th", {}, "Size"), el("th", {}, "Root CID"),
        el("th", {}, "Date"), el("th", {}, el("span", { class: "visually-hidden" }, "Actions")))),
      envelopeBody)),
    el("div", { class: "row" }, openProgress));

  async function download(root, name, size) {
    openProgress.value = 0;
    const opened = await guarded(`Opening ${name || root}`, () => meshkit.open(root, { as: state.current,
      onProgress: (done, total) => { openProgress.max = total || 1; openProgress.value = total ? done : 1; } })
      .catch((error) => {  // closed now (revoked, expired): the inbox shows it from here on
        onClosed(root, error.code);
        throw error;
      }));
    if (!opened) return;
    openProgress.max = 1;
    openProgress.value = 1;
    saveBlob(opened.blob, opened.saveAs || name || root + ".bin");  // the sender's name, made safe by Core
    say(`Opened “${opened.name || name || root}” (${formatSize(opened.size)}), every block verified.`);
  }

  // Audio and video play in the page, streamed and seekable: the worker answers the
  // player's Range requests from the segments that hold them (nothing else is decrypted).
  const playable = (type) => /^(audio|video)\//.test(type || "");
  async function play(root, name, type, spot) {
    const url = await guarded(`Playing ${name}`, () => meshkit.openUrl(root, { as: state.current, play: true }));
    if (!url) return;
    spot.querySelectorAll(".player").forEach((old) => old.remove());
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

  function shareControls(env) {
    const select = el("select", { "aria-label": `Share ${env.name} with`, testid: "share-to" },
      el("option", { value: "" }, "Share with…"),
      ...state.contacts.map((c) => el("option", { value: c.id }, `${c.name} (${shortId(c.id)})`)));
    const expiry = el("select", { "aria-label": "Share expires", testid: "share-expiry" },
      el("option", { value: "" }, "never expires"), el("option", { value: "1h" }, "expires in 1 hour"),
      el("option", { value: "1d" }, "expires in 1 day"), el("option", { value: "7d" }, "expires in 7 days"));
    const share = el("button", { type: "button", testid: "share", onclick: () => guarded(`Sharing ${env.name}`, async () => {
      if (!select.value) throw { code: "invalid_argument", message: "choose a contact" };
      const result = await meshkit.share(env.root, { from: state.current, to: select.value, expires: expiry.value || undefined });
      say(`Shared “${env.name}” with ${select.selectedOptions[0].textContent}.`);
      return result;
    }) }, "Share");
    const revoke = el("button", { type: "button", class: "danger", testid: "revoke", onclick: () => guarded(`Revoking ${env.name}`, async () => {
      if (!select.value) throw { code: "invalid_argument", message: "choose the contact whose share to revoke" };
      const result = await meshkit.revoke(env.root, { from: state.current, to: select.value });
      say(`Stopped sharing “${env.name}” with ${select.selectedOptions[0].textContent}: their future opens fail ` +
        `(${result.revoked.length} key${result.revoked.length === 1 ? "" : "s"} revoked, one per device and recovery key).`);
    }) }, "Revoke");
    const list = el("ul", { class: "access", testid: "access-list", hidden: true });
    const who = el("button", { type: "button", class: "link", testid: "access", "aria-expanded": "false",
      onclick: () => guarded(`Listing who can open ${env.name}`, async () => {
        if (!list.hidden) { list.hidden = true; who.setAttribute("aria-expanded", "false"); return; }
        const access = await meshkit.access(env.root, { as: state.current });
        const label = (id, name) => name ? `${name} (${shortId(id)})` : shortId(id);
        list.replaceChildren(
          ...access.recipients.map((r) => el("li", { testid: "access-recipient" }, label(r.id, r.name),
            el("small", {}, " · sealed to them: cannot be taken back"))),
          ...access.shares.map((sh) => el("li", { testid: "access-share", "data-state": sh.state }, label(sh.to, sh.name),
            el("small", {}, sh.state === "live" ? (sh.expires ? ` · shared, until ${formatDate(sh.expires)}` : " · shared")
              : ` · share ${sh.state}`))));
        list.hidden = false;
        who.setAttribute("aria-expanded", "true");
      }) }, "Who can open it?");
    return el("div", {}, el("div", { class: "share" }, select, expiry, share, revoke, who, list),
      sendLinkControls(meshkit, env, { state, guarded, say, expiry }));
  }

  // Renders overlap (the worker's news, a finished upload, a new identity): only the latest
  // one draws, all at once, so two never both add their rows and nothing older shows last.
  let renders = 0;
  async function renderEnvelopes() {
    const mine = ++renders;
    if (!state.current) return envelopeBody.replaceChildren();
    const list = await guarded("Listing envelopes", () => meshkit.envelopes(state.current)) || [];
    if (mine !== renders) return;
    const rows = list.length ? [] :
      [el("tr", {}, el("td", { colspan: "5", class: "hint" }, "Nothing yet: encrypt a file above."))];
    for (const env of list) {
      const queued = env.status === "queued";
      rows.push(el("tr", { testid: "envelope-row", "data-root": env.root, "data-status": env.status || "uploaded" },
        el("td", {}, env.name, queued ? el("span", { class: "badge warn" }, " uploading") : null),
        el("td", {}, formatSize(env.size)),
        el("td", {}, el("code", { class: "cid", testid: "envelope-root", title: env.root }, env.root)),
        el("td", {}, formatDate(env.created)),
        // still in the outbox: nothing to open or share on the gateway yet
        queued ? el("td", { class: "actions hint" }, "Open and share once uploaded (see the outbox).") : el("td", { class: "actions" },
          el("button", { type: "button", testid: "open", onclick: () => download(env.root, env.name, env.size) }, "Open"),
          // large files: streamed by the service worker straight to disk, never held in memory
          // the worker's link is one-time and short-lived: minted on the click, used at once
          streaming() ? el("button", { type: "button", class: "button", testid: "save-streamed",
            title: "Decrypt while downloading (for large files)",
            onclick: () => guarded(`Saving ${env.name}`, async () => {
              // a plain navigation, which the worker answers (an attachment: the page stays);
              // a link with the download attribute would go past the worker to the gateway
              const link = el("a", { href: await meshkit.openUrl(env.root, { as: state.current, name: env.name,
                download: true }), hidden: true });
              document.body.append(link);
              link.click();
              link.remove();
            }) }, "Save") : null,
          streaming() && playable(env.type) ? el("button", { type: "button", testid: "play",
            onclick: (event) => play(env.root, env.name, env.type, event.target.closest("td")) }, "Play") : null,
          shareControls(env))));
    }
    envelopeBody.replaceChildren(...rows);
  }

  return { card: envelopesCard, render: renderEnvelopes, download, play, playable };
}
