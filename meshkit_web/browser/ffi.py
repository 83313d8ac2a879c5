"""The one place the browser runtime meets Pyodide's FFI (``js``, ``pyodide.ffi``).

Under Pyodide this re-exports the real things and wraps the two browser services the
runtime's pure parts use: BroadcastChannel (news for open pages) and Web Locks (one
uploader per outbox job, across the page and the worker). Under CPython (tests, tools)
``IN_BROWSER`` is False and both are in-process stand-ins with the same behaviour within
one process, so the outbox runs unchanged there."""

import asyncio
import contextlib

from .namespace import Names

try:
    import js  # noqa: F401 - re-exported
    from pyodide.ffi import JsException, create_proxy, to_js  # noqa: F401 - re-exported
    IN_BROWSER = True
except ImportError:  # CPython
    js = None
    IN_BROWSER = False
try:
    from pyodide.ffi import jsnull  # JS null, where Pyodide keeps it apart from None
except ImportError:
    jsnull = None

    class JsException(Exception):  # never raised here; lets `except JsException` compile
        pass

    def _browser_only(*_args, **_kw):
        raise RuntimeError("this needs Pyodide (the browser runtime)")
    to_js = create_proxy = _browser_only

# What this runtime's namespace names (namespace.py): one runtime a Pyodide instance, so one
# namespace; start() sets it before anything is opened, broadcast or locked.
names = Names()
_listeners: list = []  # CPython: who hears broadcast()
_locks: dict[str, asyncio.Lock] = {}  # CPython: the Web Locks stand-in


def is_nothing(value) -> bool:
    """JS's undefined or null (or Python's None) as it arrives in an argument."""
    if value is None:
        return True
    return IN_BROWSER and (value is js.undefined or (jsnull is not None and value is jsnull))


def js_bytes(data) -> "js.Uint8Array":
    """A JS copy of Python bytes (the copy keeps the bytes valid across awaits)."""
    array = js.Uint8Array.new(len(data))
    if len(data):
        array.assign(data)
    return array


def js_object(value):
    """A Python dict as a plain JS object (nested dicts too)."""
    return to_js(value, dict_converter=js.Object.fromEntries)


def broadcast(message: dict) -> None:
    """Tell every page of this origin (and the worker) that something changed."""
    if not IN_BROWSER:
        for listener in list(_listeners):
            listener(dict(message))
        return
    channel = getattr(js.globalThis, "BroadcastChannel", None)
    if channel is None:
        return
    bc = channel.new(names.channel)
    bc.postMessage(js_object(message))
    bc.close()


def listen(listener) -> None:
    """CPython: hear what broadcast() says (the browser has BroadcastChannel for this)."""
    _listeners.append(listener)


@contextlib.asynccontextmanager
async def web_lock(name: str, wait: bool = False):
    """Hold the named Web Lock for the block's duration. Yields False when ``wait`` is off
    and someone else holds it. A context that dies (a killed worker, a closed tab) releases
    its locks, so a job never stays locked by a dead uploader."""
    if not IN_BROWSER:
        lock = _locks.setdefault(name, asyncio.Lock())
        if not wait and lock.locked():
            yield False
            return
        async with lock:
            yield True
        return
    locks = getattr(js.navigator, "locks", None)
    if locks is None:  # no Web Locks: this context is the only uploader there is
        yield True
        return
    loop = asyncio.get_event_loop()
    granted, release = loop.create_future(), loop.create_future()

    def callback(lock):
        if not granted.done():
            granted.set_result(lock is not None)
        return release  # the lock is held until this settles
    proxy = create_proxy(callback)
    held = locks.request(name, js_object({"ifAvailable": not wait}), proxy)
    try:
        yield await granted
    finally:
        if not release.done():
            release.set_result(None)
        await held
        proxy.destroy()


def use_namespace(namespace: str) -> Names:
    """Name everything after ``namespace`` from now on (InvalidArgumentError if it is not one)."""
    global names
    names = Names(namespace)
    return names


def online() -> bool:
    """What the browser says of the network (CPython: assume so; requests will tell)."""
    return bool(js.navigator.onLine) if IN_BROWSER else True
