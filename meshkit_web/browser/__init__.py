"""The browser runtime: Core in Pyodide, behind ``globalThis.meshkit`` (static/meshkit.js)
and the service worker (service_worker/sw.js).

    runtime.py      the methods JavaScript calls (with account_api.py and send_api.py)
    jsapi.py        the JS boundary: arguments converted in (text, number, data, ...) and
                    answers out as {ok, value} or {ok: false, code, message}
    opened.py       an opened envelope as the page receives it (a Blob, its description)
    outbox.py       staged uploads and the uploader that drains them
    memory.py       the in-memory store (also the fallback when IndexedDB is unavailable)
    indexeddb.py    IndexedDB and the identity store on top of either
    webcrypto.py    the WebCrypto backend (non-extractable keys)
    fetch_client.py the gateway client's transport over fetch (FetchTransport)
    ffi.py          the ONE module that touches Pyodide's FFI (js, pyodide.ffi)

Everything but ffi.py, indexeddb.py, webcrypto.py and fetch_client.py imports under CPython
too: the outbox and the memory store are tested there (ffi.py then gives in-process
stand-ins for BroadcastChannel and Web Locks).
"""
