// Firefox ESR for tests/support/engines.py: puppeteer-core over WebDriver BiDi, driven by
// line-delimited JSON on stdin/stdout (one request a line, one answer a line; console
// lines of the page come as {"event": "console"} lines in between).
//
//   node engine_firefox.mjs '{"executable": "/usr/bin/firefox-esr", "profile": DIR, "port": N}'
//
// Requests: {id, op: "open", url, timeout_ms} | {id, op: "reload", timeout_ms}
//         | {id, op: "call", source, arg, timeout_ms} | {id, op: "close"}
// Answers:  {id, ok: true, value} | {id, ok: false, error}
// `source` is an async function's text (made by engines.py); puppeteer hands it to the
// page over BiDi (script.callFunction), which the page's CSP (no eval) does not govern.
// The browser is closed when stdin ends, on close, and on SIGTERM/SIGINT; engines.py kills
// whatever is left (this process and the browser's) if it does not answer in time.
import readline from "node:readline";
import puppeteer from "puppeteer-core";

const options = JSON.parse(process.argv[2] || "{}");
const write = (message) => process.stdout.write(JSON.stringify(message) + "\n");
let browser = null;
let page = null;
let closing = null;

async function close() {
  if (!closing) {
    closing = (async () => {
      try { if (browser) await Promise.race([browser.close(), new Promise((r) => setTimeout(r, 10_000))]); }
      catch { /* already gone */ }
      try { if (browser && browser.process()) browser.process().kill("SIGKILL"); } catch { /* gone */ }
    })();
  }
  return closing;
}

function within(promise, ms, what) {
  let timer;
  const late = new Promise((_, fail) => { timer = setTimeout(() => fail(new Error(`${what}: no answer in ${ms} ms`)), ms); });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

async function start() {
  browser = await puppeteer.launch({
    browser: "firefox",
    executablePath: options.executable || "/usr/bin/firefox-esr",
    headless: true,
    userDataDir: options.profile,
    debuggingPort: options.port,  // the remote agent listens on 127.0.0.1 (checked by engines.py)
    protocolTimeout: 600_000,     // each request carries its own, shorter bound (within())
    handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false,  // ours below: close, then exit
    extraPrefsFirefox: {
      // navigator.storage.persist() would wait for ever on a prompt nobody answers
      "dom.storageManager.prompt.testing": true, "dom.storageManager.prompt.testing.allow": true,
      // truly offline, as the Chromium tests are: every request but loopback goes to a proxy
      // that is not there (Firefox never proxies loopback), so no test passes by reaching out
      "network.proxy.type": 1, "network.proxy.http": "127.0.0.1", "network.proxy.http_port": 9,
      "network.proxy.ssl": "127.0.0.1", "network.proxy.ssl_port": 9, "network.proxy.share_proxy_settings": true,
      "network.proxy.no_proxies_on": "127.0.0.1,localhost", "network.proxy.allow_hijacking_localhost": false,
    },
  });
  page = await browser.newPage();
  page.on("console", (message) => write({ event: "console", text: `${message.type()}: ${message.text()}` }));
  page.on("pageerror", (error) => write({ event: "console", text: `pageerror: ${error && error.message}` }));
  write({ event: "started", browser_pid: browser.process() ? browser.process().pid : null,
          version: await browser.version() });
}

const handlers = {
  async open({ url, timeout_ms }) {
    await page.goto(url, { waitUntil: "load", timeout: timeout_ms });
    return page.url();
  },
  async reload({ timeout_ms }) {
    await page.reload({ waitUntil: "load", timeout: timeout_ms });
    return page.url();
  },
  async call({ source, arg, timeout_ms }) {
    // a function made here, in Node, from the text engines.py sent; puppeteer sends its text on
    const fn = (0, eval)(`(${source})`);
    return await page.evaluate(fn, arg === undefined ? null : arg, timeout_ms);
  },
  async close() {
    await close();
    return true;
  },
};

async function serve() {
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let request;
    try { request = JSON.parse(line); } catch { write({ ok: false, error: "not JSON: " + line.slice(0, 100) }); continue; }
    const handler = handlers[request.op];
    try {
      if (!handler) throw new Error(`unknown op ${request.op}`);
      const bound = (request.timeout_ms || 60_000) + 15_000;  // the page's own bound, then ours
      write({ id: request.id, ok: true, value: await within(handler(request), bound, request.op) });
    } catch (error) {
      write({ id: request.id, ok: false, error: String(error && error.stack || error) });
    }
    if (request.op === "close") break;
  }
  await close();  // stdin ended or close asked: no browser outlives its driver
}

for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"]) {
  process.on(signal, () => { close().finally(() => process.exit(1)); });
}

try {
  await start();
} catch (error) {
  write({ event: "failed", error: String(error && error.stack || error) });
  await close();
  process.exit(1);
}
await serve();
process.exit(0);
