"""State several gateway replicas must agree on at once, kept outside any one of them: the
rate-limit windows (a client may not get N times its limit by spreading requests over N
replicas). One process keeps them in memory; replicas share them through Redis
(``MESHKIT_REDIS_URL``). A failure of Redis fails closed: nothing is let through unmetered
while it is unreachable.

One-time login challenges are NOT kept here: a Redis restarted without persistence forgets
what it held, and a one-time guarantee must outlive that. They are rows of the metadata
database (``MetadataStore.use_challenge``), which every replica shares and which is durable
before it acknowledges.
"""


from limits.aio.storage import RedisStorage, Storage
from limits.errors import StorageError
from limits.storage import storage_from_string

from ..core.errors import UnavailableError


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


__all__ = ["limit_storage", "StorageError", "unavailable"]
