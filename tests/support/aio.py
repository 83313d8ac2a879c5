"""Running a coroutine from a synchronous test."""

import asyncio
import concurrent.futures


def run(coro):
    """Run a coroutine to completion. Playwright's sync API keeps an event loop running on
    this thread once a browser test has run, so then the coroutine runs on a fresh thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()
