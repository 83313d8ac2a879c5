"""The browser runtime's store interface, in memory: the fallback when IndexedDB is
unavailable or blocked, and what the outbox runs on under CPython (tests)."""

DB_VERSION = 6
# store -> keyPath. Version 2 added the outbox (jobs + their encrypted blocks, keyed
# "<job> <seq>") and the background mailbox; version 3 the account record each device
# verified last (no rollback) and whether its recovery kit was confirmed; version 4 the
# other people's accounts this browser verified (core.account.KnownAccount); version 5 what
# this browser verified of its accounts' libraries (clients.accounts.LibraryState, kept as
# parts keyed "<account> <seq>", so a gateway's rollback loses nothing seen here); version 6
# what apps' messages and records must never go back on (clients.app_data: the newest record
# version accepted per account and name, the messages acknowledged). Upgrades only ever add stores.
STORES = {"identities": "name", "contacts": "id", "envelopes": "key", "jobs": "id", "outbox": "key",
          "mailbox": "key", "accounts": "name", "known_accounts": "id",
          "library_parts": "key", "app_state": "key"}


class MemoryStore:
    """Same interface, nothing persists: used when IndexedDB is unavailable."""

    persistent = False
    kind = "memory"

    def __init__(self):
        self._data = {name: {} for name in STORES}

    async def put(self, store: str, value: dict) -> None:
        self._data[store][value[STORES[store]]] = dict(value)

    async def get(self, store: str, key: str):
        value = self._data[store].get(key)
        return dict(value) if value is not None else None

    async def all(self, store: str) -> list[dict]:
        return [dict(v) for v in self._data[store].values()]

    async def delete(self, store: str, key: str) -> None:
        self._data[store].pop(key, None)

    async def delete_prefix(self, store: str, prefix: str) -> None:
        for key in [k for k in self._data[store] if k.startswith(prefix)]:
            del self._data[store][key]

    async def count_prefix(self, store: str, prefix: str) -> int:
        return sum(1 for k in self._data[store] if k.startswith(prefix))
