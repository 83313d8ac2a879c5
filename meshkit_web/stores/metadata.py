"""The metadata service's store: SQLite by default, PostgreSQL to scale out (SQLAlchemy Core).

Everything here is public or already protected by the client: identity records (public),
capsules (content keys HPKE-wrapped to their recipient), proofs (signed statements),
mailbox messages and sync records (opaque bytes the client sealed), pins and an audit
log. No token, private key or plaintext is ever stored. The same code and the same test
suite run on both databases.
"""

import asyncio
import time
import uuid
from contextlib import asynccontextmanager

from sqlalchemy import (BigInteger, Boolean, Column, Index, Integer, LargeBinary, MetaData, String, Table,
                        and_, case, delete, func, insert, inspect, or_, select, update)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ..core.errors import (ConflictError, InvalidArgumentError, LimitExceededError, MailboxFullError,
                           QuotaExceededError)
from ..core.limits import charged_size

schema = MetaData()

identities = Table(
    "identities", schema,
    Column("id", String(64), primary_key=True),
    Column("record", LargeBinary, nullable=False),  # the self-signed DAG-CBOR record
    Column("created", BigInteger, nullable=False),
)
used_challenges = Table(  # each challenge answers once (replay protection across instances)
    "used_challenges", schema,
    Column("jti", String(64), primary_key=True),
    Column("expires", BigInteger, nullable=False),
)
pins = Table(
    "pins", schema,
    Column("identity", String(64), primary_key=True),
    Column("root", String(128), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("created", BigInteger, nullable=False),
)
messages = Table(
    "messages", schema,
    Column("id", String(36), primary_key=True),
    Column("recipient", String(64), nullable=False),
    Column("sender", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("created", BigInteger, nullable=False),
    Column("acked", Boolean, nullable=False, default=False),
    # added later (_upgrade adds them to older databases): what the sender was charged, when acknowledged
    Column("charged", BigInteger, nullable=False, server_default="0"),
    Column("acked_at", BigInteger),
    Index("messages_by_recipient_time", "recipient", "created", "id"),     # pages, newest or oldest first
    Index("messages_by_recipient_kind", "recipient", "kind", "created"),   # one kind whatever the volume
    Index("messages_by_pair", "recipient", "sender", "acked"),             # one sender's unread, filter
    Index("messages_by_created", "created"),                               # retention
    Index("messages_by_acked_at", "acked_at"),                             # acknowledged ones
)
capsules = Table(
    "capsules", schema,
    Column("cid", String(128), primary_key=True),
    Column("root", String(128), nullable=False),
    Column("sharer", String(64), nullable=False),
    Column("recipient", String(64), nullable=False),
    Column("expires", BigInteger),
    Column("policy", String(512)),
    Column("data", LargeBinary, nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
    Column("created", BigInteger, nullable=False),
    Index("capsules_by_root_recipient", "root", "recipient"),
)
open_limits = Table(  # capsules that may be released only so many more times (send links)
    "open_limits", schema,
    Column("cid", String(128), primary_key=True),
    Column("remaining", Integer, nullable=False),
)
proofs = Table(
    "proofs", schema,
    Column("cid", String(128), primary_key=True),
    Column("root", String(128), nullable=False),
    Column("signer", String(64), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("created", BigInteger, nullable=False),
    Index("proofs_by_root", "root"),
)
sync_records = Table(
    "sync_records", schema,
    Column("identity", String(64), primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("updated", BigInteger, nullable=False),
)
usage = Table(  # per identity: bytes pinned and bytes stored, changed only by conditional UPDATEs
    "usage", schema,
    Column("identity", String(64), primary_key=True),
    Column("pinned", BigInteger, nullable=False),
    Column("stored", BigInteger, nullable=False),
)
block_charges = Table(  # who put which block (and is charged for it) until it is collected
    "block_charges", schema,
    Column("identity", String(64), primary_key=True),
    Column("cid", String(128), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("created", BigInteger, nullable=False),
    Index("block_charges_by_cid", "cid"),
    Index("block_charges_by_created", "created"),
)
released_blocks = Table(  # blocks whose last charge was released early: the collector deletes them unless a pin reaches them
    "released_blocks", schema,
    Column("cid", String(128), primary_key=True),
    Column("created", BigInteger, nullable=False),
)
anonymous_events = Table(  # what unauthenticated callers did against an identity: one counter per kind
    "anonymous_events", schema,
    Column("identity", String(64), primary_key=True),
    Column("event", String(64), primary_key=True),
    Column("count", BigInteger, nullable=False),
    Column("last", BigInteger, nullable=False),
)
accounts = Table(  # every version of every account record (verified on the way in)
    "accounts", schema,
    Column("id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("data", LargeBinary, nullable=False),
    Column("created", BigInteger, nullable=False),
)
account_devices = Table(  # which account a device belongs to, and whether it was removed
    "account_devices", schema,
    Column("device", String(64), primary_key=True),
    Column("account", String(64), nullable=False, index=True),
    Column("removed", Boolean, nullable=False),
    Column("version", Integer, nullable=False),  # the account version that said so
)
account_phrases = Table(  # the id of each replaced recovery phrase's root key -> its account (a hint)
    "account_phrases", schema,
    Column("phrase", String(64), primary_key=True),
    Column("account", String(64), nullable=False),
)
passkeys = Table(  # passkey wraps of accounts' recovery secrets (FORMAT.md 11.8): opaque here
    "passkeys", schema,
    Column("lookup", String(32), primary_key=True),     # from the passkey's PRF output: only it finds a wrap
    Column("account", String(64), nullable=False, index=True),
    Column("credential", String(1400), nullable=False),  # base64url of the WebAuthn credential id
    Column("data", LargeBinary, nullable=False),
    Column("created", BigInteger, nullable=False),
)
link_codes = Table(  # device links sealed under a short code (FORMAT.md 11.5.1): opaque here
    "link_codes", schema,
    Column("lookup", String(32), primary_key=True),      # from the code: only it finds the link
    Column("identity", String(64), nullable=False, index=True),  # the new device that stored it
    Column("data", LargeBinary, nullable=False),
    Column("expires", BigInteger, nullable=False),       # the gateway's clock
)
audit = Table(
    "audit", schema,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("time", BigInteger, nullable=False),
    Column("identity", String(64)),
    Column("action", String(64), nullable=False),
    Column("target", String(160)),
    Column("outcome", String(64), nullable=False),
    Index("audit_by_identity", "identity"),
)


class _OverQuota(Exception):
    """Rolls a charge's transaction back (raised inside it)."""


class _MailboxFull(Exception):
    """Rolls a message's transaction back: its sender has too many unread there."""


# columns added to tables after their first release: (table, column DDL, statement filling old rows)
_ADDED_COLUMNS = (
    ("messages", "charged BIGINT NOT NULL DEFAULT 0", "UPDATE messages SET charged = length(body)"),
    ("messages", "acked_at BIGINT", "UPDATE messages SET acked_at = created WHERE acked"),
)


def _upgrade(conn) -> None:
    """Bring a database made by an older gateway up to this schema: the columns and indexes
    added since (create_all makes missing tables only). Idempotent, run at every start."""
    for table, ddl, fill in _ADDED_COLUMNS:
        name = ddl.split()[0]
        if name not in {c["name"] for c in inspect(conn).get_columns(table)}:
            conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {ddl}")
            conn.exec_driver_sql(fill)
    for table in schema.tables.values():
        for index in table.indexes:
            index.create(conn, checkfirst=True)


# A database that is down or saturated is answered 'unavailable' (gateway/http.py) after at most:
CONNECT_TIMEOUT = 5  # seconds to open a connection to a PostgreSQL server
POOL_WAIT = 10       # seconds a request waits for a pooled connection to come free


def engine_for(url: str) -> AsyncEngine:
    """sqlite:///path or postgresql://... -> an async engine (aiosqlite / asyncpg drivers)."""
    if url.startswith("sqlite:///"):
        url = "sqlite+aiosqlite:///" + url[len("sqlite:///"):]
    elif url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+asyncpg://" + url.split("://", 1)[1]
    else:
        raise InvalidArgumentError("metadata URL must be sqlite:///PATH or postgresql://...")
    kwargs = {"pool_timeout": POOL_WAIT}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30}
    else:  # a server that does not answer is found out in seconds, not asyncpg's default minute
        kwargs["connect_args"] = {"timeout": CONNECT_TIMEOUT}
    return create_async_engine(url, **kwargs)


class MetadataStore:
    def __init__(self, url: str):
        self.engine = engine_for(url)
        self.dialect = self.engine.dialect.name
        # SQLite has one writer at a time, and writers that find it busy sleep and retry in
        # ever longer steps, so under load some wait for seconds. This process's writers take
        # turns here instead, in order (other processes still meet SQLite's busy timeout).
        self._write_turns = asyncio.Lock() if self.dialect == "sqlite" else None

    @asynccontextmanager
    async def _write(self):
        """A write transaction (the one way in: on SQLite, one at a time per process)."""
        if self._write_turns is None:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self._write_turns, self.engine.begin() as conn:
            yield conn

    async def start(self) -> None:
        async with self.engine.begin() as conn:
            if self.dialect == "sqlite":  # concurrent readers with one writer, several processes
                await conn.exec_driver_sql("PRAGMA journal_mode=WAL")
            await conn.run_sync(schema.create_all)
            await conn.run_sync(_upgrade)

    async def close(self) -> None:
        await self.engine.dispose()

    async def _insert_new(self, conn, table: Table, **values) -> bool:
        """INSERT ... ON CONFLICT DO NOTHING: True if the row is new. (A failed plain INSERT
        would abort the whole transaction on PostgreSQL.)"""
        make = postgresql_insert if self.dialect == "postgresql" else sqlite_insert
        result = await conn.execute(make(table).values(**values).on_conflict_do_nothing())
        return result.rowcount == 1

    async def _insert_rows(self, conn, table: Table, rows: list[dict]) -> None:
        """Many rows in one INSERT ... ON CONFLICT DO NOTHING (rows already there stay as they are)."""
        if rows:
            make = postgresql_insert if self.dialect == "postgresql" else sqlite_insert
            await conn.execute(make(table).values(rows).on_conflict_do_nothing())

    # identity directory -------------------------------------------------------------
    async def put_identity(self, ident: str, record: bytes, created: int) -> None:
        """Insert or replace with a newer record (the caller verified it and its id)."""
        async with self._write() as conn:
            row = (await conn.execute(select(identities.c.created).where(identities.c.id == ident))).first()
            if row is None:
                await self._insert_new(conn, identities, id=ident, record=record, created=created)
            elif created > row.created:
                await conn.execute(update(identities).where(identities.c.id == ident)
                                   .values(record=record, created=created))

    async def get_identity(self, ident: str) -> bytes | None:
        async with self.engine.connect() as conn:
            return (await conn.execute(select(identities.c.record).where(identities.c.id == ident))).scalar()

    # accounts -----------------------------------------------------------------------
    async def latest_account(self, account: str) -> bytes | None:
        async with self.engine.connect() as conn:
            return (await conn.execute(select(accounts.c.data).where(accounts.c.id == account)
                                       .order_by(accounts.c.version.desc()).limit(1))).scalar()

    async def account_records(self, account: str, since: int, limit: int = 256) -> list[bytes]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(accounts.c.data).where(and_(accounts.c.id == account,
                                                                         accounts.c.version > since))
                                      .order_by(accounts.c.version).limit(limit))
            return list(rows.scalars())

    async def publish_account(self, account: str, version: int, data: bytes, expected: int,
                              devices: list[str], keep: int = 256) -> None:
        """Store version ``version`` if the newest stored is still ``expected`` (0: none):
        compare-and-swap, ConflictError otherwise. The device index follows the record: the
        devices it lists are current, every other device of the account is removed. Only
        the newest ``keep`` versions are kept. A few set-based statements: the caller
        verified the record before, so the write lock is held for milliseconds."""
        d = account_devices.c
        async with self._write() as conn:
            # the insert first: it takes the write lock (SQLite) or the version's key (PostgreSQL)
            stored = await self._insert_new(conn, accounts, id=account, version=version, data=data,
                                            created=int(time.time()))
            below = (await conn.execute(select(func.coalesce(func.max(accounts.c.version), 0)).where(and_(
                accounts.c.id == account, accounts.c.version < version)))).scalar()
            above = (await conn.execute(select(func.count()).select_from(accounts).where(and_(
                accounts.c.id == account, accounts.c.version > version)))).scalar()
            if not stored or below != expected or above:
                raise ConflictError(f"account {account} is not at version {expected} any more")
            # A removed id is only ever marked, never inserted: anyone can write any id into a
            # record's removed list, and that must not lock an identity out of the gateway.
            await self._insert_rows(conn, account_devices, [
                {"device": device, "account": account, "removed": False, "version": version} for device in devices])
            await conn.execute(update(account_devices).where(and_(
                d.account == account, d.device.in_(devices), d.version < version)).values(removed=False, version=version))
            await conn.execute(update(account_devices).where(and_(
                d.account == account, d.device.notin_(devices), d.version < version)).values(removed=True, version=version))
            oldest_kept = (select(accounts.c.version).where(accounts.c.id == account)
                           .order_by(accounts.c.version.desc()).offset(keep - 1).limit(1).scalar_subquery())
            await conn.execute(delete(accounts).where(and_(accounts.c.id == account, accounts.c.version < oldest_kept)))

    async def device_status(self, device: str) -> dict | None:
        """{account, removed} for a device of an account; None for a plain identity."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(account_devices.c.account, account_devices.c.removed)
                                      .where(account_devices.c.device == device))).first()
            return dict(row._mapping) if row else None

    async def add_account_phrase(self, phrase: str, account: str) -> None:
        """Remember that ``phrase`` (the id of a replaced phrase's root key) is ``account``'s,
        so a recovery from that phrase finds the account (FORMAT.md 11.7); kept after the
        phrase is replaced again, so the older phrase is told it was replaced."""
        async with self._write() as conn:
            await self._insert_new(conn, account_phrases, phrase=phrase, account=account)

    async def account_of_phrase(self, phrase: str) -> str | None:
        async with self.engine.connect() as conn:
            return (await conn.execute(select(account_phrases.c.account)
                                       .where(account_phrases.c.phrase == phrase))).scalar()

    async def account_device_ids(self, account: str) -> list[str]:
        """The current devices of ``account``."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(account_devices.c.device).where(and_(
                account_devices.c.account == account, account_devices.c.removed == False)))  # noqa: E712
            return [row[0] for row in rows]

    # challenges ---------------------------------------------------------------------
    # passkey wraps ------------------------------------------------------------------
    async def put_passkey(self, account: str, lookup: str, credential: str, data: bytes, limit: int) -> None:
        """Keep one wrap of ``account``'s recovery secret; the same credential added again
        replaces its older wrap. ConflictError when ``lookup`` is another account's;
        LimitExceededError past ``limit`` wraps per account."""
        p = passkeys.c
        async with self._write() as conn:
            owner = (await conn.execute(select(p.account).where(p.lookup == lookup))).scalar()
            if owner is not None and owner != account:
                raise ConflictError("that passkey recovery record belongs to another account")
            await conn.execute(delete(passkeys).where(and_(p.account == account, or_(
                p.credential == credential, p.lookup == lookup))))
            count = (await conn.execute(select(func.count()).select_from(passkeys)
                                        .where(p.account == account))).scalar()
            if count >= limit:
                raise LimitExceededError(f"an account keeps at most {limit} passkeys: remove one first")
            await conn.execute(insert(passkeys).values(lookup=lookup, account=account, credential=credential,
                                                       data=data, created=int(time.time())))

    async def get_passkey(self, lookup: str) -> bytes | None:
        async with self.engine.connect() as conn:
            return (await conn.execute(select(passkeys.c.data).where(passkeys.c.lookup == lookup))).scalar()

    async def list_passkeys(self, account: str) -> list[dict]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(passkeys.c.credential, passkeys.c.created)
                                      .where(passkeys.c.account == account).order_by(passkeys.c.created))
            return [dict(row._mapping) for row in rows]

    async def delete_passkey(self, account: str, credential: str) -> bool:
        async with self._write() as conn:
            result = await conn.execute(delete(passkeys).where(and_(passkeys.c.account == account,
                                                                    passkeys.c.credential == credential)))
            return result.rowcount > 0

    # short codes of device links ----------------------------------------------------
    async def put_link_code(self, identity: str, lookup: str, data: bytes, expires: int, now: int,
                            limit: int) -> None:
        """Keep a sealed link until ``expires``. ConflictError when ``lookup`` is another
        identity's; LimitExceededError past ``limit`` live codes per identity. Expired rows
        go first."""
        c = link_codes.c
        async with self._write() as conn:
            await conn.execute(delete(link_codes).where(c.expires <= now))
            owner = (await conn.execute(select(c.identity).where(c.lookup == lookup))).scalar()
            if owner is not None and owner != identity:
                raise ConflictError("that link code is another device's")
            await conn.execute(delete(link_codes).where(c.lookup == lookup))
            count = (await conn.execute(select(func.count()).select_from(link_codes)
                                        .where(c.identity == identity))).scalar()
            if count >= limit:
                raise LimitExceededError(f"a device keeps at most {limit} link codes at once: wait for one to expire")
            await conn.execute(insert(link_codes).values(lookup=lookup, identity=identity, data=data, expires=expires))

    async def get_link_code(self, lookup: str, now: int) -> bytes | None:
        """The sealed link under ``lookup``, unless it expired by ``now``."""
        async with self.engine.connect() as conn:
            return (await conn.execute(select(link_codes.c.data).where(and_(
                link_codes.c.lookup == lookup, link_codes.c.expires > now)))).scalar()

    async def use_challenge(self, jti: str, expires: int) -> bool:
        """True the first time a challenge is used, False on any replay."""
        async with self._write() as conn:
            # purged a while after they expire: another replica whose clock is behind still refuses a replay
            await conn.execute(delete(used_challenges).where(used_challenges.c.expires < int(time.time()) - 600))
            return await self._insert_new(conn, used_challenges, jti=jti, expires=expires)

    # pins ---------------------------------------------------------------------------
    async def _usage_row(self, conn, ident: str) -> None:
        """Make sure ``ident`` has a usage row (started from the pins it already has)."""
        pinned = (await conn.execute(select(func.coalesce(func.sum(pins.c.size), 0))
                                     .where(pins.c.identity == ident))).scalar()
        await self._insert_new(conn, usage, identity=ident, pinned=pinned, stored=0)

    @staticmethod
    async def _charge(conn, ident: str, column, size: int, quota: int) -> None:
        """Add ``size`` to one usage counter only if it stays within ``quota``: one UPDATE,
        so concurrent charges can never overrun it together. _OverQuota rolls back."""
        result = await conn.execute(update(usage).where(and_(usage.c.identity == ident, column + size <= quota))
                                    .values({column.key: column + size}))
        if result.rowcount != 1:
            raise _OverQuota()

    async def add_pin(self, ident: str, root: str, size: int, quota: int) -> str | None:
        """Record a pin if it fits the identity's quota: "added", "existing" (idempotent), or
        None when it does not fit."""
        try:
            async with self._write() as conn:
                await self._usage_row(conn, ident)
                if not await self._insert_new(conn, pins, identity=ident, root=root, size=size,
                                              created=int(time.time())):
                    return "existing"
                await self._charge(conn, ident, usage.c.pinned, size, quota)
        except _OverQuota:
            return None
        return "added"

    async def pin_count(self, root: str) -> int:
        """How many identities pin this root."""
        async with self.engine.connect() as conn:
            return (await conn.execute(select(func.count()).select_from(pins).where(pins.c.root == root))).scalar()

    async def remove_pin(self, ident: str, root: str) -> tuple[bool, int]:
        """(whether this identity had the pin, how many pins of the root remain)."""
        async with self._write() as conn:
            size = (await conn.execute(select(pins.c.size).where(and_(pins.c.identity == ident,
                                                                      pins.c.root == root)))).scalar()
            result = await conn.execute(delete(pins).where(and_(pins.c.identity == ident, pins.c.root == root)))
            if result.rowcount:
                await conn.execute(update(usage).where(usage.c.identity == ident)
                                   .values(pinned=usage.c.pinned - size))
            left = (await conn.execute(select(func.count()).select_from(pins).where(pins.c.root == root))).scalar()
        return result.rowcount > 0, left

    async def list_pins(self, ident: str) -> list[dict]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(pins.c.root, pins.c.size, pins.c.created)
                                      .where(pins.c.identity == ident).order_by(pins.c.created))
            return [dict(row._mapping) for row in rows]

    async def pinned_bytes(self, ident: str) -> int:
        async with self.engine.connect() as conn:
            return (await conn.execute(select(func.coalesce(func.sum(pins.c.size), 0))
                                       .where(pins.c.identity == ident))).scalar()

    async def pins_by_identity(self) -> dict[str, list[str]]:
        """Every pinned root, by the identity that pinned it."""
        found: dict[str, list[str]] = {}
        async with self.engine.connect() as conn:
            for ident, root in await conn.execute(select(pins.c.identity, pins.c.root)):
                found.setdefault(ident, []).append(root)
        return found

    async def pins_with_times(self) -> dict[str, list[tuple[str, int]]]:
        """Every pin as {identity: [(root, created)]} (the crash check)."""
        found: dict[str, list[tuple[str, int]]] = {}
        async with self.engine.connect() as conn:
            for ident, root, created in await conn.execute(select(pins.c.identity, pins.c.root, pins.c.created)):
                found.setdefault(ident, []).append((root, created))
        return found

    async def pin_state(self) -> tuple:
        """Changes whenever a pin is added or removed (collection checks it did not move)."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(func.count(), func.coalesce(func.max(pins.c.created), 0),
                                             func.coalesce(func.sum(pins.c.size), 0)))).first()
            return tuple(row)

    # stored blocks: charges against the storage quota ---------------------------------
    async def charge_block(self, ident: str, cid: str, size: int, quota: int) -> bool:
        """Charge ``ident`` for a block of ``size`` bytes it puts, at ``charged_size`` (once per
        block; a block put again is free). False, and nothing recorded, past ``quota``."""
        return await self.charge_blocks(ident, [(cid, size)], quota)

    async def charge_blocks(self, ident: str, blocks: list[tuple[str, int]], quota: int) -> bool:
        """Charge a group of ``(cid, size)`` blocks in one transaction (a batched upload:
        one commit instead of one per block), each at ``charged_size``: a tiny block costs
        what a file and a disk block cost. False, and nothing recorded, when the group would
        exceed ``quota`` (the caller then charges block by block to find where)."""
        return await self._charge_new(ident, blocks, quota) is not None

    async def _charge_new(self, ident: str, blocks: list[tuple[str, int]], quota: int) -> list[str] | None:
        """The charges of ``blocks`` ``ident`` did not have yet, made in one transaction: the
        CIDs charged now, or None (nothing recorded) past ``quota``."""
        try:
            async with self._write() as conn:
                await self._usage_row(conn, ident)
                total, charged, now = 0, [], int(time.time())
                for cid, size in sorted(blocks):  # one order for every writer: no lock-order deadlock
                    if await self._insert_new(conn, block_charges, identity=ident, cid=cid, size=charged_size(size),
                                              created=now):
                        total += charged_size(size)
                        charged.append(cid)
                if total:
                    await self._charge(conn, ident, usage.c.stored, total, quota)
        except _OverQuota:
            return None
        return charged

    async def charge_pinned_blocks(self, ident: str, blocks: list[tuple[str, int]], quota: int,
                                   group: int = 256) -> bool:
        """Charge ``ident`` for the blocks of a DAG it pins that it is not charged for yet: a
        pin keeps blocks alive, so whoever pins pays for them (an owner's own blocks are
        charged already and cost nothing more). One short transaction per ``group`` blocks;
        False, with what this call charged given back, past ``quota``."""
        made: list[str] = []
        for start in range(0, len(blocks), group):
            part = blocks[start:start + group]
            have = await self.charged_cids(ident, [c for c, _ in part])  # most pins are of one's own blocks
            missing = [(cid, size) for cid, size in part if cid not in have]
            if not missing:
                continue
            charged = await self._charge_new(ident, missing, quota)
            if charged is None:
                sizes = dict(blocks)
                for cid in made:
                    await self.drop_charge(ident, cid, charged_size(sizes[cid]))
                return False
            made += charged
        return True

    async def charged_cids(self, ident: str, cids: list[str]) -> set[str]:
        """Which of ``cids`` ``ident`` is charged for already."""
        return set(await self.charge_sizes(ident, cids))

    async def charge_sizes(self, ident: str, cids: list[str], group: int = 1000) -> dict[str, int]:
        """{cid: what ``ident`` is charged for it} for those of ``cids`` it is charged for."""
        found: dict[str, int] = {}
        async with self.engine.connect() as conn:
            for start in range(0, len(cids), group):
                found.update((await conn.execute(select(block_charges.c.cid, block_charges.c.size).where(and_(
                    block_charges.c.identity == ident, block_charges.c.cid.in_(cids[start:start + group]))))).all())
        return found

    async def mark_released(self, cid: str) -> None:
        """A block whose last charge was released before the grace: the collector deletes it
        (if nobody is charged for it and no pin reaches it by then)."""
        async with self._write() as conn:
            await self._insert_new(conn, released_blocks, cid=cid, created=int(time.time()))

    async def released(self, limit: int = 10_000) -> list[str]:
        async with self.engine.connect() as conn:
            return list((await conn.execute(select(released_blocks.c.cid).order_by(released_blocks.c.created,
                                                                                   released_blocks.c.cid)
                                            .limit(limit))).scalars())

    async def forget_released(self, cids: list[str]) -> None:
        async with self._write() as conn:
            await conn.execute(delete(released_blocks).where(released_blocks.c.cid.in_(cids)))

    async def stored_bytes(self, ident: str) -> int:
        async with self.engine.connect() as conn:
            return (await conn.execute(select(usage.c.stored).where(usage.c.identity == ident))).scalar() or 0

    async def expired_charges(self, before: int, limit: int = 10_000, after: tuple | None = None) -> list[dict]:
        """Up to ``limit`` charges made before ``before``, in (created, identity, cid) order,
        from just past ``after`` (the last one of the previous page)."""
        return await self._charges_page(block_charges.c.created < before, limit, after)

    async def charges_since(self, since: int, limit: int = 10_000, after: tuple | None = None) -> list[dict]:
        """Like ``expired_charges``, for the charges made at or after ``since``."""
        return await self._charges_page(block_charges.c.created >= since, limit, after)

    async def _charges_page(self, condition, limit: int, after: tuple | None) -> list[dict]:
        c = block_charges.c
        query = select(block_charges).where(condition)
        if after is not None:
            created, ident, cid = after
            query = query.where(or_(c.created > created, and_(c.created == created, or_(
                c.identity > ident, and_(c.identity == ident, c.cid > cid)))))
        async with self.engine.connect() as conn:
            rows = await conn.execute(query.order_by(c.created, c.identity, c.cid).limit(limit))
            return [dict(row._mapping) for row in rows]

    async def drop_charge(self, ident: str, cid: str, size: int) -> bool:
        async with self._write() as conn:
            result = await conn.execute(delete(block_charges).where(and_(block_charges.c.identity == ident,
                                                                         block_charges.c.cid == cid)))
            if not result.rowcount:
                return False
            await conn.execute(update(usage).where(usage.c.identity == ident)
                               .values(stored=usage.c.stored - size))
        return True

    async def charges_for(self, cid: str) -> list[dict]:
        """Every charge for one block: [{identity, size}]."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(block_charges.c.identity, block_charges.c.size)
                                      .where(block_charges.c.cid == cid))
            return [dict(row._mapping) for row in rows]

    async def charge_count(self, cid: str) -> int:
        async with self.engine.connect() as conn:
            return (await conn.execute(select(func.count()).select_from(block_charges)
                                       .where(block_charges.c.cid == cid))).scalar()

    # mailboxes ----------------------------------------------------------------------
    async def post_message(self, recipient: str, sender: str, kind: str, body: bytes,
                           quota: int | None = None, sender_limit: int | None = None,
                           notice_kinds: tuple = ()) -> str:
        """Store a message. With ``quota``, it is charged to the sender's storage at
        ``charged_size`` (at least MIN_CHARGE, an empty message too) until it is deleted
        (QuotaExceededError, nothing stored, past it); with ``sender_limit``,
        MailboxFullError once the sender has that many unacknowledged messages here of the
        same class (``notice_kinds``, or every other kind)."""
        message_id = str(uuid.uuid4())
        charged = charged_size(len(body)) if quota is not None else 0
        try:
            async with self._write() as conn:
                if quota is not None:
                    await self._usage_row(conn, sender)
                    # first: this write locks the sender's usage row, so its posts are counted one at a time
                    await self._charge(conn, sender, usage.c.stored, charged, quota)
                if sender_limit is not None and await self._unread_from(
                        conn, recipient, sender, notice_kinds, kind in notice_kinds) >= sender_limit:
                    raise _MailboxFull()
                await conn.execute(insert(messages).values(id=message_id, recipient=recipient, sender=sender,
                                                           kind=kind, body=body, created=int(time.time()),
                                                           acked=False, charged=charged))
        except _OverQuota:
            raise QuotaExceededError(f"{charged} more bytes exceed the sender's storage quota") from None
        except _MailboxFull:
            raise MailboxFullError(f"{recipient} has {sender_limit} unacknowledged messages from {sender}: "
                                   "the next waits until some are read") from None
        return message_id

    @staticmethod
    async def _unread_from(conn, recipient: str, sender: str, notice_kinds: tuple, notices: bool) -> int:
        m = messages.c
        kinds = m.kind.in_(notice_kinds) if notices else m.kind.notin_(notice_kinds)
        return (await conn.execute(select(func.count()).select_from(messages).where(and_(
            m.recipient == recipient, m.sender == sender, m.acked.is_(False), kinds)))).scalar()

    async def list_messages(self, recipient: str, include_acked: bool = False, *, kinds: tuple = (),
                            sender: str | None = None, cursor: str | None = None, limit: int = 200,
                            newest_first: bool = True, notices: tuple = ()) -> tuple[list[dict], str | None]:
        """One page of a mailbox: (rows, the cursor of the next page or None). Ordered by
        (created, id), newest first unless told otherwise; ``kinds`` and ``sender`` filter in
        the database, so one kind is found whatever else was sent. A row of a kind in
        ``notices`` carries its (small, gateway-written) body as ``notice``."""
        m = messages.c
        query = select(m.id, m.sender, m.kind, m.created, m.acked, func.length(m.body).label("size"),
                       case((m.kind.in_(notices), m.body), else_=None).label("notice")).where(m.recipient == recipient)
        if not include_acked:
            query = query.where(m.acked.is_(False))
        if kinds:
            query = query.where(m.kind.in_(kinds))
        if sender is not None:
            query = query.where(m.sender == sender)
        if cursor is not None:
            created, _, after = cursor.partition(".")
            older = or_(m.created < int(created), and_(m.created == int(created), m.id < after))
            newer = or_(m.created > int(created), and_(m.created == int(created), m.id > after))
            query = query.where(older if newest_first else newer)
        order = (m.created.desc(), m.id.desc()) if newest_first else (m.created, m.id)
        async with self.engine.connect() as conn:
            rows = [dict(row._mapping) for row in await conn.execute(query.order_by(*order).limit(limit + 1))]
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, (f"{rows[-1]['created']}.{rows[-1]['id']}" if more else None)

    async def get_message(self, recipient: str, message_id: str) -> dict | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(messages).where(and_(messages.c.id == message_id,
                                                                  messages.c.recipient == recipient)))).first()
            return dict(row._mapping) if row else None

    async def ack_message(self, recipient: str, message_id: str) -> bool:
        """Mark a message read (the first time counts for its deletion after the grace)."""
        async with self._write() as conn:
            result = await conn.execute(update(messages).where(and_(messages.c.id == message_id,
                                                                    messages.c.recipient == recipient))
                                        .values(acked=True, acked_at=func.coalesce(messages.c.acked_at,
                                                                                   int(time.time()))))
        return result.rowcount > 0

    async def expire_messages(self, unacked_before: int, acked_before: int, limit: int = 1000) -> int:
        """Delete up to ``limit`` messages created before ``unacked_before`` (read or not) or
        acknowledged before ``acked_before``, giving each sender back what it was charged.
        Returns how many were deleted (the collector calls again while it is ``limit``)."""
        m = messages.c
        deleted = 0
        for expired in (m.created < unacked_before, and_(m.acked.is_(True), m.acked_at < acked_before)):
            async with self.engine.connect() as conn:
                ids = list((await conn.execute(select(m.id).where(expired).limit(limit - deleted))).scalars())
            if not ids:
                continue
            async with self._write() as conn:
                # RETURNING: only the rows this statement deleted are refunded (another replica may collect too)
                gone = (await conn.execute(delete(messages).where(m.id.in_(ids)).returning(m.sender, m.charged))).all()
                refunds: dict[str, int] = {}
                for sender, charged in gone:
                    refunds[sender] = refunds.get(sender, 0) + charged
                for sender, amount in sorted(refunds.items()):  # one order for every writer
                    if amount:
                        await conn.execute(update(usage).where(usage.c.identity == sender)
                                           .values(stored=usage.c.stored - amount))
            deleted += len(gone)
            if deleted >= limit:
                break
        return deleted

    # capsules -----------------------------------------------------------------------
    async def put_capsule(self, cid: str, root: str, sharer: str, recipient: str, expires: int | None,
                          policy: str | None, data: bytes, quota: int | None = None, opens: int | None = None) -> None:
        """Store a capsule (the same signed capsule again changes nothing, its limit
        included); with ``quota`` its bytes are charged to the sharer's storage; with
        ``opens`` it is released at most that many times."""
        try:
            async with self._write() as conn:
                new = await self._insert_new(conn, capsules, cid=cid, root=root, sharer=sharer, recipient=recipient,
                                             expires=expires, policy=policy, data=data, revoked=False,
                                             created=int(time.time()))
                if opens is not None:
                    if not new:  # the limit is set once, with the capsule: never changed later
                        raise ConflictError(f"capsule {cid} is stored already: its limit on opens cannot change")
                    await conn.execute(insert(open_limits).values(cid=cid, remaining=opens))
                if new and quota is not None:
                    await self._usage_row(conn, sharer)
                    await self._charge(conn, sharer, usage.c.stored, len(data), quota)
        except _OverQuota:
            raise QuotaExceededError(f"{len(data)} more bytes exceed the sharer's storage quota") from None

    async def get_capsule(self, cid: str) -> dict | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(capsules).where(capsules.c.cid == cid))).first()
            return dict(row._mapping) if row else None

    async def find_capsules(self, *, root: str | None = None, recipient: str | None = None,
                            sharer: str | None = None, limit: int = 1000) -> list[dict]:
        # opens_left: None for a share without a limit on its opens (a send link has one)
        query = select(capsules.c.cid, capsules.c.root, capsules.c.sharer, capsules.c.recipient,
                       capsules.c.expires, capsules.c.policy, capsules.c.revoked, capsules.c.created,
                       open_limits.c.remaining.label("opens_left")).select_from(
            capsules.outerjoin(open_limits, open_limits.c.cid == capsules.c.cid))
        for column, value in ((capsules.c.root, root), (capsules.c.recipient, recipient),
                              (capsules.c.sharer, sharer)):
            if value is not None:
                query = query.where(column == value)
        async with self.engine.connect() as conn:
            return [dict(row._mapping) for row in
                    await conn.execute(query.order_by(capsules.c.created.desc()).limit(limit))]

    async def capsule_still_live(self, cid: str, now: int):
        """True if the capsule is neither revoked nor expired, decided by one UPDATE that
        takes the row's write lock (a revocation commits before it or waits for it);
        else (revoked, expires) as stored now."""
        async with self._write() as conn:
            result = await conn.execute(
                update(capsules).where(and_(capsules.c.cid == cid, capsules.c.revoked.is_(False),
                                            (capsules.c.expires.is_(None)) | (capsules.c.expires > now)))
                .values(revoked=False))
            if result.rowcount == 1:
                return True
            row = (await conn.execute(select(capsules.c.revoked, capsules.c.expires)
                                      .where(capsules.c.cid == cid))).first()
        return (True, None) if row is None else (bool(row.revoked), row.expires)

    async def take_open(self, cid: str) -> bool:
        """One release of the capsule counted against its limit, if it has one: False when
        none is left. One conditional UPDATE, so parallel opens never take the last twice."""
        async with self._write() as conn:
            taken = await conn.execute(update(open_limits).where(and_(open_limits.c.cid == cid, open_limits.c.remaining > 0))
                                       .values(remaining=open_limits.c.remaining - 1))
            if taken.rowcount == 1:
                return True
            limited = (await conn.execute(select(open_limits.c.remaining).where(open_limits.c.cid == cid))).first()
        return limited is None

    async def opens_left(self, cid: str) -> int | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(open_limits.c.remaining).where(open_limits.c.cid == cid))).first()
        return None if row is None else row.remaining

    async def revoke_capsule(self, cid: str) -> None:
        async with self._write() as conn:
            await conn.execute(update(capsules).where(capsules.c.cid == cid).values(revoked=True))

    # proofs -------------------------------------------------------------------------
    async def put_proof(self, cid: str, root: str, signer: str, data: bytes, quota: int | None = None) -> bool:
        """Store a proof once; True when it was new."""
        try:
            async with self._write() as conn:
                new = await self._insert_new(conn, proofs, cid=cid, root=root, signer=signer, data=data,
                                             created=int(time.time()))
                if new and quota is not None:
                    await self._usage_row(conn, signer)
                    await self._charge(conn, signer, usage.c.stored, len(data), quota)
                return new
        except _OverQuota:
            raise QuotaExceededError(f"{len(data)} more bytes exceed the signer's storage quota") from None

    async def get_proof(self, cid: str) -> bytes | None:
        async with self.engine.connect() as conn:
            return (await conn.execute(select(proofs.c.data).where(proofs.c.cid == cid))).scalar()

    async def find_proofs(self, root: str, limit: int = 1000) -> list[str]:
        async with self.engine.connect() as conn:
            return list((await conn.execute(select(proofs.c.cid).where(proofs.c.root == root)
                                            .order_by(proofs.c.created).limit(limit))).scalars())

    async def proof_count(self, root: str, signer: str) -> int:
        """How many proofs about ``root`` ``signer`` stored."""
        async with self.engine.connect() as conn:
            return (await conn.execute(select(func.count()).select_from(proofs).where(
                and_(proofs.c.root == root, proofs.c.signer == signer)))).scalar()

    # sync records ---------------------------------------------------------------------
    async def get_sync(self, ident: str, name: str) -> dict | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(sync_records.c.version, sync_records.c.data, sync_records.c.updated)
                                      .where(and_(sync_records.c.identity == ident,
                                                  sync_records.c.name == name)))).first()
            return dict(row._mapping) if row else None

    async def put_sync(self, ident: str, name: str, expected: int, data: bytes, quota: int | None = None) -> int:
        """Compare-and-swap: write version expected+1 only if the stored version is ``expected``
        (0 = must not exist yet). ConflictError otherwise, naming the current version. With
        ``quota``, growth is charged to the identity's storage (and shrinkage given back)."""
        now = int(time.time())
        where = and_(sync_records.c.identity == ident, sync_records.c.name == name)
        try:
            async with self._write() as conn:
                old = (await conn.execute(select(func.length(sync_records.c.data)).where(where))).scalar() or 0
                if expected == 0:
                    written = await self._insert_new(conn, sync_records, identity=ident, name=name, version=1,
                                                     data=data, updated=now)
                else:
                    written = (await conn.execute(update(sync_records).where(and_(
                        where, sync_records.c.version == expected)).values(
                        version=expected + 1, data=data, updated=now))).rowcount == 1
                if written and quota is not None:
                    await self._usage_row(conn, ident)
                    if len(data) > old:
                        await self._charge(conn, ident, usage.c.stored, len(data) - old, quota)
                    elif len(data) < old:
                        await conn.execute(update(usage).where(usage.c.identity == ident)
                                           .values(stored=usage.c.stored - (old - len(data))))
                if written:
                    return expected + 1
        except _OverQuota:
            raise QuotaExceededError(f"sync record {name!r} would exceed the storage quota") from None
        current = await self.get_sync(ident, name)
        raise ConflictError(f"sync record {name!r} is at version {current['version'] if current else 0}, "
                            f"not {expected}")

    # audit log ------------------------------------------------------------------------
    async def audit(self, identity: str | None, action: str, target: str | None, outcome: str) -> None:
        async with self._write() as conn:
            await conn.execute(insert(audit).values(time=int(time.time()), identity=identity, action=action,
                                                    target=target, outcome=outcome))

    async def count_anonymous(self, identity: str, event: str) -> None:
        """Count an unauthenticated event against ``identity``: one row per kind, so no
        amount of anonymous noise can grow its view or push real entries out of it."""
        now = int(time.time())
        async with self._write() as conn:
            if not await self._insert_new(conn, anonymous_events, identity=identity, event=event, count=1, last=now):
                await conn.execute(update(anonymous_events).where(and_(anonymous_events.c.identity == identity,
                                                                       anonymous_events.c.event == event))
                                   .values(count=anonymous_events.c.count + 1, last=now))

    async def anonymous_counts(self, identity: str) -> list[dict]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(anonymous_events.c.event, anonymous_events.c.count,
                                             anonymous_events.c.last).where(anonymous_events.c.identity == identity))
            return [dict(row._mapping) for row in rows]

    async def audit_entries(self, identity: str, limit: int = 200) -> list[dict]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(audit.c.seq, audit.c.time, audit.c.action, audit.c.target,
                                             audit.c.outcome).where(audit.c.identity == identity)
                                      .order_by(audit.c.seq.desc()).limit(limit))
            return [dict(row._mapping) for row in rows]
