"""State several gateway replicas must agree on at once, kept outside any one of them.

Two things: rate-limit windows (a client may not get N times its limit by spreading requests
over N replicas) and one-time login challenges (an answer used at one replica is refused at
every other). One process keeps both in memory / the metadata store; replicas share them
through Redis (``MESHKIT_REDIS_URL``). Either way a failure of the shared store fails closed:
no token is issued and no request is let through unmetered while it is unreachable.
"""

import time

from limits.aio.storage import RedisStorage, Storage
from limits.errors import StorageError
from limits.storage import storage_from_string

from ..core.errors import UnavailableError

CHALLENGE_PREFIX = "meshkit:challenge:"


def limit_storage(redis_url: str | None, fallback: str = "memory://") -> Storage:
    """The rate limiter's storage: Redis when configured (redis-py's asyncio client)."""
    if redis_url:
        return RedisStorage("async+" + redis_url, implementation="redispy", wrap_exceptions=True,
                            key_prefix="meshkit-limits", socket_timeout=2, socket_connect_timeout=2)
    return storage_from_string("async+" + fallback)


def unavailable(exc: Exception) -> UnavailableError:
    """What a client is told when the shared store fails: its type only (a Redis error's
    text can carry the URL, with its password)."""
    return UnavailableError(f"the gateway's shared state is unreachable ({type(exc).__name__})")


class RedisChallenges:
    """One-time challenge answers in Redis: SET NX with the challenge's own expiry, so the
    first replica to see an answer wins and the key vanishes when the challenge would."""

    def __init__(self, url: str):
        import redis.asyncio
        self._redis = redis.asyncio.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    async def use(self, jti: str, expires: int) -> bool:
        import redis
        try:
            return bool(await self._redis.set(CHALLENGE_PREFIX + jti, b"1", nx=True,
                                              exat=max(int(expires), int(time.time()) + 1)))
        except redis.RedisError as exc:
            raise unavailable(exc) from None

    async def close(self) -> None:
        await self._redis.aclose()


class StoreChallenges:
    """One process (or replicas without Redis): the metadata store's table of used challenges."""

    def __init__(self, store):
        self._store = store

    async def use(self, jti: str, expires: int) -> bool:
        return await self._store.use_challenge(jti, expires)

    async def close(self) -> None:
        pass


__all__ = ["limit_storage", "RedisChallenges", "StoreChallenges", "StorageError", "unavailable"]
