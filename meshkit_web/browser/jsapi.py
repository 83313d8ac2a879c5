"""The runtime's boundary with JavaScript, both ways.

Out: methods answer ``{ok: true, value}`` or ``{ok: false, code, message}`` with MeshKit's
typed error codes, never a Python traceback (it could carry values).

In: the ONE place a JS argument becomes Python (``text``, ``number``, ``flag``, ``data``,
``callback``, ``optional``, ...). Each takes what a JS caller may pass (undefined and null
alike for an option left out) and raises InvalidArgumentError for anything else, so a
method never works on ``"undefined"`` or ``"[object Object]"``.
"""

import logging
import math

from ..core.cid import parse_cid
from ..core.errors import InvalidArgumentError, MeshKitError
from .ffi import is_nothing, js, to_js

log = logging.getLogger("meshkit.browser")


def _js(value):
    return to_js(value, dict_converter=js.Object.fromEntries)


def _result(value=None):
    return _js({"ok": True, "value": value})


def _failure(code: str, message: str):
    return _js({"ok": False, "code": code, "message": message})


def api(method):
    """Typed errors out as {ok: false, code, message}; anything unexpected as 'internal'
    with its type only (a message from deep inside could quote data)."""
    async def wrapper(self, *args):
        try:
            return _result(await method(self, *args))
        except MeshKitError as exc:
            log.info("%s failed: %s", method.__name__, exc.code)  # the code only: for "Copy diagnostics"
            return _failure(exc.code, exc.message)
        except (ValueError, OverflowError) as exc:  # int() of NaN or Infinity from JS: an argument, not a bug
            log.info("%s failed: invalid_argument", method.__name__)
            return _failure("invalid_argument", str(exc)[:300])
        except Exception as exc:  # noqa: BLE001 - reported by type, logged for the developer
            log.exception("meshkit runtime: %s failed", method.__name__)
            return _failure("internal", f"{method.__name__} failed ({type(exc).__name__})")
    wrapper.__name__ = method.__name__
    wrapper.meshkit_api = True  # what a page may call by name (api_names)
    return wrapper


def api_names(runtime) -> list[str]:
    """The methods JavaScript may call on ``runtime``: those marked @api, nothing else."""
    return sorted(name for name in dir(type(runtime)) if getattr(getattr(type(runtime), name), "meshkit_api", False))


# --- JS arguments as Python ----------------------------------------------------------------
REQUIRED = object()  # a converter's default: the argument must be given


def py(value):
    """A JS argument (array/object proxy) as Python; undefined and null as None."""
    if is_nothing(value):
        return None
    return value.to_py() if hasattr(value, "to_py") else value


def given(value) -> bool:
    """Not left out: neither undefined, null nor the empty string."""
    return not is_nothing(value) and not (isinstance(value, str) and value == "")


def optional(value):
    """An option a JS caller may leave out (undefined, null or ""): None then, else as Python."""
    return py(value) if given(value) else None


def text(value, what: str, default=REQUIRED) -> str:
    """A string argument. A JS number counts as its text (String(n)), as it always has;
    with a ``default``, an argument left out (or "") is that default."""
    if default is not REQUIRED and not given(value):
        return default
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise InvalidArgumentError(f"{what} must be text")


def texts(value, what: str) -> list[str]:
    """One string or a list of them, as a list."""
    value = py(value)
    return [text(item, what) for item in (value if isinstance(value, list) else [value])]


def cid(value, what: str = "root") -> bytes:
    """A CID given as text (malformed when it does not parse as one)."""
    return parse_cid(text(value, what))


def number(value, what: str, *, whole: bool = True, default=REQUIRED):
    """A finite number (a JS number, or a numeric string as before); ``whole``: an int (1.0
    counts, 1.5 does not). With a ``default``, an argument left out (or "") is that default."""
    if default is not REQUIRED and not given(value):
        return default
    if isinstance(value, str):
        value = _numeral(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value if whole else float(value)
    if isinstance(value, float) and math.isfinite(value) and (value.is_integer() or not whole):
        return int(value) if whole else value
    raise InvalidArgumentError(f"{what} must be a {'whole ' if whole else ''}number")


def _numeral(value: str) -> int | float | None:
    for parse in (int, float):
        try:
            return parse(value)
        except ValueError:
            pass
    return None


def flag(value) -> bool:
    """A yes/no option (left out: no)."""
    return bool(py(value) or False)


def callback(value, what: str, *, required: bool = False):
    """A JS function; None for one left out (undefined, null, or false-ish: JS callers write
    ``onProgress: cond && f``)."""
    if callable(value):
        return value
    if required or py(value):  # given, and not a function
        raise InvalidArgumentError(f"{what} must be a function")
    return None


def data(value, what: str = "data"):
    """A JS string, typed array or ArrayBuffer as Python (str or bytes)."""
    if isinstance(value, (str, bytes, bytearray, memoryview)):
        return value
    if given(value) and not isinstance(value, (bool, int, float)) and callable(getattr(value, "to_bytes", None)):
        if js.ArrayBuffer.isView(value) or str(js.Object.prototype.toString.call(value)) == "[object ArrayBuffer]":
            return bytes(value.to_bytes())
    raise InvalidArgumentError(f"{what} is a string, a Uint8Array (or another typed array) or an ArrayBuffer")


