"""Running a coroutine from a synchronous test: the public fixtures' ``run`` (one home)."""

from meshkit_web.testing import run  # noqa: F401 - re-exported for the suite
