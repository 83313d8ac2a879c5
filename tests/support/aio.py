"""Running a coroutine from a synchronous test: the public fixtures' ``run`` (one home)."""

from meshkit_web.testing import run  # noqa: F401 - re-exported for the suite


async def error_of(call) -> str:
    """The code of the typed error ``call`` (an awaitable) fails with; "no error" if it succeeds."""
    try:
        await call
    except Exception as exc:  # noqa: BLE001 - the typed error's code is the assertion
        return getattr(exc, "code", type(exc).__name__)
    return "no error"
