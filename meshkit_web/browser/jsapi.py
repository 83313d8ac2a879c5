"""How runtime methods answer JavaScript: ``{ok: true, value}`` or ``{ok: false, code,
message}`` with MeshKit's typed error codes, never a Python traceback (it could carry
values)."""

import logging

from ..core.errors import MeshKitError
from .ffi import js, to_js

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


def _py(value):
    """A JS argument (array/object proxy) as Python."""
    return value.to_py() if hasattr(value, "to_py") else value


