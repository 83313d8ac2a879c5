"""Gateway client: the protocol calls (directory, accounts, blocks, envelopes, shares,
mailbox, proofs) over one identity's session.

Three layers: ``transport.py`` moves bytes (httpx on CPython, fetch in the browser),
``session.py`` owns the one retry loop, the gateway's clock and the token, and this module
says what to ask; ``upload.py`` puts an envelope's blocks. Every block fetched is checked
against its CID by Core before any decryption: the gateway is not trusted for integrity.
Server errors come back as Core's typed errors (same ``code``).
"""

import json
import logging
from dataclasses import dataclass
from urllib.parse import urlencode
from typing import AsyncIterable, Awaitable, Callable, Iterable

from ..core import codec
from ..core import clock as clocks  # clocks.local_now, looked up at each call: the one seam for the device's clock
from ..core.backend import CryptoBackend
from ..core.capsule import Capsule, make_capsule, verify_capsule
from ..core.clock import CLOCK_SKEW_ALLOWED, GatewayClock
from ..core.cid import cid_str, parse_cid
from ..core.expiry import parse_expiry
from ..core.envelope import (DEFAULT_SEGMENT_SIZE, Header, OpenedEnvelope, open_envelope, read_header, seal,
                             sealed_size)
from ..core.errors import (MeshKitError, MissingMetadataError, NotARecipientError, PolicyUnavailableError,
                           UnavailableError)
from ..core.errors import LimitExceededError, QuotaExceededError  # noqa: I001 - kept apart from the list above
from ..core.errors import ExpiredError, OpensUsedUpError, RevokedError
from ..core.metadata import FileMetadata, open_metadata_with_key
from ..core.identity import Identity, PublicIdentity, record_from_json
from ..core.limits import block_limit, charged_envelope_size
from ..core.proof import SHARED, make_proof, verify_proof
from ..core.signing import is_identity_id
from ..core.units import human_bytes
from .session import ALL_SCOPES, GatewaySession
from .streamed_read import StreamedRead
from .transport import ReplyStream, Response, Transport
from .upload import Upload

log = logging.getLogger("meshkit.client")

MAX_SHARES_TRIED = 32  # capsules of one envelope tried at an open, newest first
INBOX_PAGE = 200    # listing rows per request (~60 KiB of JSON: far below MAX_REPLY_SIZE)
INBOX_LIMIT = 1000  # listing rows one inbox() call reads at most (the newest)
RELEASE_BLOCKS_MAX = 256  # CIDs per POST /v1/release (the gateway's bound)


@dataclass
class Description:
    """What an envelope is, without its plaintext: the verified header, its sealed metadata
    (None: not given, or not known here), the opens a limited share has left (None: no limit),
    until when the share opens (None: no expiry, or not through a share), by the gateway's rows:
    it enforces both."""
    header: Header
    metadata: FileMetadata | None
    opens_left: int | None = None
    expires: int | None = None


def _live_shares(shares: list[dict], root: bytes, now: float) -> list[dict]:
    """The shares that still open (not revoked, not expired, opens left), as the gateway
    lists them, at ``now`` (the gateway's time: its state, its clock); none: the typed
    reason of the newest (what a release would have said)."""
    live = [s for s in shares if not s["revoked"] and (s["expires"] is None or s["expires"] > now)
            and s.get("opens_left") != 0]
    if live:
        return live
    if not shares:
        raise NotARecipientError(f"this identity is not a recipient of {cid_str(root)} and holds no share")
    newest = shares[0]
    if newest["revoked"]:
        raise RevokedError(f"the share {newest['cid']} of {cid_str(root)} was revoked")
    if newest.get("opens_left") == 0:
        raise OpensUsedUpError(f"the share {newest['cid']} of {cid_str(root)} was opened as often as its sharer allowed")
    raise ExpiredError(f"the share {newest['cid']} of {cid_str(root)} expired")


def share_state(row: dict, now: float) -> str:
    """A share row's state at ``now`` (the gateway's clock): "revoked", "expired",
    "used_up" (limited in its opens, none left) or "live"."""
    if row.get("revoked"):
        return "revoked"
    if isinstance(row.get("expires"), int) and row["expires"] <= now:
        return "expired"
    return "used_up" if row.get("opens_left") == 0 else "live"


def _share_row(row, root: str) -> bool:
    """A share row of ``root`` as the gateway lists them; any other is dropped (a hostile
    gateway's row is never a KeyError further on)."""
    def whole(value) -> bool:
        return value is None or (isinstance(value, int) and not isinstance(value, bool))
    return (isinstance(row, dict) and row.get("root") == root
            and all(isinstance(row.get(k), str) for k in ("cid", "recipient", "sharer"))
            and isinstance(row.get("revoked"), bool) and whole(row.get("expires")) and whole(row.get("opens_left")))


class GatewayClient:
    """One identity's protocol calls with one gateway, over a GatewaySession (the retry
    loop, the clock, the token: clients/session.py) whose requests travel by ``transport``
    (clients/transport.py: HttpxTransport by default; the browser passes FetchTransport).
    Block uploads go through ``upload`` (clients/upload.py)."""
    streamed_reads = True  # whole-file opens read one streamed CAR (False: a request per block)

    def __init__(self, base_url: str, backend: CryptoBackend, identity: Identity | None = None, *,
                 scopes: Iterable[str] = ALL_SCOPES, timeout: float = 60.0, clock: GatewayClock | None = None,
                 transport: Transport | None = None):
        self._attach(GatewaySession(base_url, backend, identity, transport=transport, scopes=scopes,
                                    timeout=timeout, clock=clock))

    @classmethod
    def over(cls, session: GatewaySession) -> "GatewayClient":
        """The protocol calls over an existing session."""
        client = cls.__new__(cls)
        client._attach(session)
        return client

    def _attach(self, session: GatewaySession) -> None:
        self.session = session
        self.upload = Upload(session)
        self._notice_senders: dict = {}  # (message id, mailbox) -> (sender, expiry) proven, or None

    def sibling(self, identity: Identity | None = None) -> "GatewayClient":
        """A client of the same kind, gateway, transport and clock for another identity."""
        other = type(self).over(self.session.sibling(identity))
        other.streamed_reads = self.streamed_reads
        return other

    # --- the session's (clients/session.py) -------------------------------------------------
    base_url = property(lambda self: self.session.base_url)
    backend = property(lambda self: self.session.backend)
    identity = property(lambda self: self.session.identity)
    clock = property(lambda self: self.session.clock)
    scopes = property(lambda self: self.session.scopes)
    transport = property(lambda self: self.session.transport)
    safe_url = property(lambda self: self.session.safe_url, doc="The base URL as messages and logs may show it.")

    async def request(self, method: str, path: str, **kw) -> Response:
        """A request through the session's retry loop (GatewaySession.request)."""
        return await self.session.request(method, path, **kw)

    async def stream_get(self, path: str, *, accept: str) -> ReplyStream:
        return await self.session.stream_get(path, accept=accept)

    async def token(self) -> str:
        return await self.session.token()

    async def gateway_now(self) -> int:
        """The gateway's time now (core.clock), asking it once if no reply told it yet."""
        return await self.session.gateway_now()

    async def close(self) -> None:
        await self.session.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()

    async def expiry(self, value) -> int | None:
        """A share's expiry from user input (core.expiry), "in 5 minutes" meaning by the
        gateway's clock, which is the one that enforces it."""
        return parse_expiry(value, await self.gateway_now())

    # --- directory -----------------------------------------------------------------------
    async def publish(self, public: PublicIdentity | None = None) -> dict:
        public = public or self.identity.public
        return (await self.request("POST", "/v1/directory", json_body=public.to_json(), auth=False)).json()

    async def resolve(self, ident: str) -> PublicIdentity:
        """A directory record, verified here (self-signed, id derived from its key)."""
        record = (await self.request("GET", f"/v1/directory/{ident}", auth=False)).json()
        public = await record_from_json(self.backend, record)
        if public.id != ident:
            raise MeshKitError(f"directory answered {public.id} for {ident}")
        return public

    # --- accounts (FORMAT.md section 11) ---------------------------------------------------
    async def publish_account(self, record) -> dict:
        return (await self.request("POST", "/v1/accounts", body=record.data, content_type="application/cbor",
                                   auth=False)).json()

    async def fetch_account(self, account_id: str, known=None, certified: set | None = None):
        """The newest record of ``account_id``, checked here through its chain from ``known``
        (the newest this client verified before; older answers are refused as rollback).
        ``certified`` gains the devices the fetched records certified (core.account.verify_chain)."""
        from ..core.account import MAX_CHAIN, verify_chain
        for _ in range(MAX_ACCOUNT_PAGES):  # the gateway answers at most MAX_CHAIN versions at a time
            since = known.version if known is not None else 0
            answer = (await self.request("GET", f"/v1/accounts/{account_id}?since={since}", auth=False)).json()
            rows = answer["records"]
            if not rows:
                return known
            known = await verify_chain(self.backend, [codec.b64d(r) for r in rows[:MAX_CHAIN]], known=known,
                                       account_id=account_id, certified=certified)
            if len(rows) < MAX_CHAIN and answer.get("more") is not True:  # a page cut short by size says more
                return known
        return known

    async def account_of(self, ident: str) -> str | None:
        """The gateway's hint of which account ``ident`` is or belongs to; None for none.
        Only a hint: clients.accounts.account_reaching checks it."""
        try:
            answer = (await self.request("GET", f"/v1/accounts/of/{ident}", auth=False)).json()
        except MissingMetadataError:
            return None
        account = answer.get("account") if isinstance(answer, dict) else None
        return account if isinstance(account, str) and is_identity_id(account) else None

    async def usage(self) -> dict:
        """{stored, storage_quota, pinned, pin_quota, gc_grace} of this identity (GET /v1/usage)."""
        return (await self.request("GET", "/v1/usage")).json()

    async def check_room(self, size: int, recipients: int, *, pin: bool = True,
                         segment_size: int | None = None) -> None:
        """Refuse, before anything is encrypted or sent, an envelope of ``size`` plaintext
        bytes to ``recipients`` that cannot fit this identity's storage quota, nor (``pin``)
        its pin quota: QuotaExceededError saying, in MB/GB, by how much (a retry cannot help)."""
        room = await self.usage()
        segment_size = segment_size or DEFAULT_SEGMENT_SIZE
        # the gateway's own rules: each stored block at least MIN_CHARGE; a pin counts the DAG's bytes
        needs = [("storage", charged_envelope_size(size, recipients, segment_size), room["storage_quota"],
                  room["stored"])]
        if pin and isinstance(room.get("pin_quota"), int):
            needs.append(("pin quota", sealed_size(size, recipients, segment_size), room["pin_quota"],
                          room.get("pinned") or 0))
        for quota_name, need, quota, used in needs:
            free = max(quota - used, 0)
            if need > free:
                raise QuotaExceededError(
                    f"this file needs {human_bytes(need)} and {human_bytes(free)} of your {human_bytes(quota)} "
                    f"{quota_name} is free: {human_bytes(need - free)} too much (delete or unpin something, "
                    "or ask for more)")

    async def unpin(self, root: bytes) -> None:
        """Remove this identity's pin of ``root`` (MissingMetadataError: it has none). Its
        blocks stop counting after the gateway's grace, or at once with ``release_root``."""
        await self.request("DELETE", f"/v1/pins/{cid_str(root)}", ok=(204,))

    async def release_root(self, root: bytes) -> dict:
        """Give back now what the blocks of ``root``'s DAG cost this identity's storage quota,
        for those none of its pins keeps (POST /v1/release/{root}): {blocks, bytes, kept}."""
        return (await self.request("POST", f"/v1/release/{cid_str(root)}")).json()

    async def release_blocks(self, cids: list[bytes]) -> dict:
        """The same for blocks named one by one (an upload refused before its root landed)."""
        total = {"blocks": 0, "bytes": 0, "kept": 0}
        for start in range(0, len(cids), RELEASE_BLOCKS_MAX):
            part = [cid_str(c) for c in cids[start:start + RELEASE_BLOCKS_MAX]]
            answer = (await self.request("POST", "/v1/release", json_body={"blocks": part})).json()
            total = {key: total[key] + int(answer.get(key) or 0) for key in total}
        return total

    # --- blocks (uploads: clients/upload.py) -------------------------------------------------
    async def put_block(self, cid: bytes, data: bytes) -> None:
        await self.upload.put_block(cid, data)

    async def put_batch(self, blocks: list[tuple[bytes, bytes]]) -> None:
        """Several ``(cid, data)`` blocks in one request (Upload.put_batch)."""
        await self.upload.put_batch(blocks)

    async def put_blocks(self, blocks: AsyncIterable[tuple[int, bytes, bytes]], *,
                         on_landed: Callable[[int, int], Awaitable[None] | None] | None = None) -> bytes:
        """Upload ``(seq, cid, data)`` blocks of one envelope in order (Upload.put_blocks):
        ``on_landed(seq, mark)`` as each lands, every block below ``mark`` having landed."""
        return await self.upload.put_blocks(blocks, on_landed=on_landed)

    async def finish_upload(self, root: bytes, *, pin: bool = True, proof: bytes | None = None) -> bytes:
        """Pin the root and store a signed 'sealed' proof (Upload.finish)."""
        return await self.upload.finish(root, pin=pin, proof=proof)

    async def get_block(self, cid: bytes) -> bytes:
        """Raw bytes as the gateway sent them: callers (Core) verify the CID before use."""
        reply = await self.request("GET", f"/ipfs/{cid_str(cid)}?format=raw", auth=False,
                                   accept="application/vnd.ipld.raw", limit=block_limit(cid))
        return reply.body

    async def pin(self, root: bytes) -> dict:
        return await self.upload.pin(root)

    # --- envelopes ---------------------------------------------------------------------------
    async def seal_upload(self, source: AsyncIterable[bytes] | Iterable[bytes], *, recipients: list[PublicIdentity],
                          now: int | None = None, pin: bool = True, include_sender: bool = True,
                          on_block: Callable[[int], None] | None = None, **seal_args) -> bytes:
        """Seal and upload block by block, then pin the root and record a 'sealed' proof.
        Returns the root CID."""
        blocks = seal(self.backend, source, sender=self.identity, recipients=recipients,
                      now=int(clocks.local_now()) if now is None else now, include_sender=include_sender, **seal_args)
        sizes, sent = [], []

        async def numbered():
            async for block in blocks:
                sizes.append(len(block.data))
                sent.append(block.cid)
                yield len(sizes) - 1, block.cid, block.data
        try:
            root = await self.put_blocks(numbered(),
                                         on_landed=(lambda seq, _: on_block(sizes[seq])) if on_block else None)
            await self.finish_upload(root, pin=pin)
        except QuotaExceededError:
            # refused (a block, or the pin): what landed never opens (a new seal has new keys),
            # so it stops counting against the quota now, not after the gateway's grace
            await self.give_back(sent)
            raise
        return root

    async def give_back(self, cids: list[bytes]) -> None:
        """``release_blocks`` of an upload given up, best effort: a failure is logged (the
        gateway's grace ends those charges anyway)."""
        try:
            released = await self.release_blocks(cids)
            log.info("upload given up: %d blocks (%d bytes) given back", released["blocks"], released["bytes"])
        except MeshKitError as exc:  # the refusal is what the caller hears
            log.warning("upload given up: its blocks count until the gateway's grace ends (%s)", exc.code)

    async def capsules_for(self, root: bytes) -> list[dict]:
        return (await self.request("GET", f"/v1/capsules?root={cid_str(root)}")).json()["capsules"]

    async def release(self, capsule_cid: str, root: bytes, recipient: str | None = None) -> Capsule:
        """Ask the gateway to release a capsule (revocation, expiry and policy are checked
        there, at every open) and verify it here (signature, root, recipient, expiry: by the
        gateway's clock, CLOCK_SKEW_ALLOWED late at most, as the gateway has just checked it).
        ``recipient``: another id this identity answers for (its account's recovery key)."""
        reply = await self.request("POST", f"/v1/capsules/{capsule_cid}/release", accept="application/cbor")
        capsule = await verify_capsule(self.backend, reply.body, root=root, recipient=recipient or self.identity.id,
                                       now=self.clock.now(), tolerance=CLOCK_SKEW_ALLOWED)
        if cid_str(capsule.cid) != capsule_cid:
            raise MeshKitError("gateway released a different capsule than asked for")
        return capsule

    async def open(self, root: bytes) -> OpenedEnvelope:
        """Open an envelope as this identity: as a recipient named in its header, or through
        a share (capsule) released by the gateway. Fails closed with the typed error."""
        header = await read_header(self.backend, root, self.get_block)  # read once: open_envelope takes it
        if any(entry.recipient == self.identity.id for entry in header.recipients):
            return self._streamed(await open_envelope(self.backend, root, self.get_block, self.identity, header=header))
        # my own capsules: the ones to my account's recovery key need the phrase (accounts.open_with_recovery);
        # one without a limit on its opens first (sorted() keeps newest first within each kind)
        shares = sorted((s for s in await self.capsules_for(root) if s.get("recipient") == self.identity.id),
                        key=lambda s: s.get("opens_left") is not None)
        if not shares:
            raise NotARecipientError(f"{self.identity.id} is not a recipient of {cid_str(root)} and holds no share")
        return self._streamed(await self._open_shared(root, header, shares))

    async def _open_shared(self, root: bytes, header: Header, shares: list[dict]) -> OpenedEnvelope:
        """Open through the first of ``shares`` the gateway releases. Every one of them, in
        order: one capsule that fails (revoked, expired, or not made by anyone who could open
        the envelope) must not hide one that works."""
        failures = []
        for share in shares[:MAX_SHARES_TRIED]:
            try:
                capsule = await self.release(share["cid"], root)
                return await open_envelope(self.backend, root, self.get_block, self.identity,
                                           wrapped_key=capsule.wrapped_key, header=header)
            except (UnavailableError, PolicyUnavailableError):
                raise  # not this share's fault: say so rather than try the next
            except MeshKitError as exc:
                failures.append(exc)
        raise failures[0]

    async def describe(self, root: bytes, metadata_key: bytes | None = None) -> "Description":
        """What ``root`` is (its verified header and sealed metadata) for this identity, never
        at the cost of one of a limited share's opens: a header recipient unwraps its own
        entry; a share without a limit is released (that costs nothing); a share limited in
        its opens (a send link's) is only looked at: its state says whether it still opens,
        and the metadata comes from ``metadata_key`` (the link's describe key) if given."""
        header = await read_header(self.backend, root, self.get_block)
        if any(entry.recipient == self.identity.id for entry in header.recipients):
            opened = await open_envelope(self.backend, root, self.get_block, self.identity, header=header)
            return Description(header, opened.metadata)
        shares = [s for s in await self.capsules_for(root) if s.get("recipient") == self.identity.id]
        live = _live_shares(shares, root, self.clock.server_now())
        expires = None if any(s["expires"] is None for s in live) else max(s["expires"] for s in live)
        unlimited = [s for s in live if s.get("opens_left") is None]
        if unlimited and metadata_key is None:
            return Description(header, (await self._open_shared(root, header, unlimited)).metadata, expires=expires)
        meta = (await open_metadata_with_key(self.backend, metadata_key, header.meta, header.size)
                if metadata_key is not None and header.meta is not None else None)
        return Description(header, meta, None if unlimited else max(s["opens_left"] for s in live), expires)

    def _streamed(self, opened: OpenedEnvelope) -> OpenedEnvelope:
        """Whole-file reads of ``opened`` come as one streamed CAR (clients/streamed_read.py)."""
        if self.streamed_reads:
            header = opened.header
            opened.sequential = lambda: StreamedRead(self, header.root, max_blocks=header.count + len(header.index) + 1)
        return opened

    async def share(self, root: bytes, recipient: PublicIdentity, *, expires: int | None = None,
                    policy: str | None = None, proof: bool = True, opens: int | None = None) -> Capsule:
        """Grant ``recipient`` access to an envelope this identity can open: as a recipient
        in its header, or through a share it received (re-sharing; the new capsule then
        expires no later than that share and carries its policy, so a re-share, such as a
        re-wrap to a newly linked device, never outlives or escapes the share it came from).
        ``opens``: the gateway releases the share at most that many times (send links).
        ``created`` is the gateway's time, as ``expires`` is (GatewayClient.expiry)."""
        now = await self.gateway_now()
        wrapped, source = await self._own_wrapped_key(root)
        if source is not None:
            if source.expires is not None:
                expires = source.expires if expires is None else min(expires, source.expires)
            policy = source.policy or policy
        capsule = await make_capsule(self.backend, self.identity, root, self.get_block, recipient,
                                     now=now, expires=expires, policy=policy, wrapped_key=wrapped)
        await self.request("POST", "/v1/capsules" + (f"?opens={int(opens)}" if opens is not None else ""),
                           body=capsule.data, content_type="application/cbor")
        if proof:  # a signed record of the grant (not for re-wraps to one's own devices)
            signed = await make_proof(self.backend, self.identity, SHARED, root, now=now, recipient=recipient.id,
                                      capsule=capsule.cid, expires=expires)
            await self.request("POST", "/v1/proofs", body=signed.data, content_type="application/cbor")
        return capsule

    async def _own_wrapped_key(self, root: bytes) -> tuple:
        """(None, None) when this identity is in the header; else (the key, the capsule) of a
        share it holds."""
        header = await read_header(self.backend, root, self.get_block)
        if any(entry.recipient == self.identity.id for entry in header.recipients):
            return None, None
        for share in (await self.capsules_for(root))[:MAX_SHARES_TRIED]:
            if share["recipient"] != self.identity.id:
                continue
            try:
                capsule = await self.release(share["cid"], root)
                return capsule.wrapped_key, capsule
            except (UnavailableError, PolicyUnavailableError):
                raise
            except MeshKitError:
                continue
        raise NotARecipientError(f"{self.identity.id} cannot open {cid_str(root)}, so cannot share it")

    async def shares_made(self, root: bytes, *, account: bool = False) -> list[dict]:
        """The shares of ``root`` this identity made (``account``: any current device of its
        account made; send links included), as the gateway lists them, each with its
        ``state`` by the gateway's clock: "live", "expired", "used_up" (a limit on its opens,
        none left) or "revoked". Rows of another root are dropped (the gateway's word on
        which shares exist and their state is all that is taken from it)."""
        role = "account" if account else "sharer"
        rows = (await self.request("GET", f"/v1/capsules?root={cid_str(root)}&role={role}")).json()["capsules"]
        now, name = self.clock.server_now(), cid_str(root)
        return [{**row, "state": share_state(row, now)} for row in rows if _share_row(row, name)]

    async def revoke(self, root: bytes, recipient_id: str | None = None, *, account: bool = False) -> list[str]:
        """Revoke every share of ``root`` this identity (``account``: any current device of
        its account) made to ``recipient_id`` (None: to anyone, send links too).
        MissingMetadataError when there was none."""
        revoked = []
        for row in await self.shares_made(root, account=account):
            if (recipient_id is None or row["recipient"] == recipient_id) and not row["revoked"]:
                await self.request("DELETE", f"/v1/capsules/{row['cid']}")
                revoked.append(row["cid"])
        if not revoked:
            raise MissingMetadataError(f"no active share of {cid_str(root)}" +
                                       (f" to {recipient_id}" if recipient_id else ""))
        return revoked

    async def inbox(self, include_acked: bool = False, notices: bool = True, alias: str | None = None, *,
                    kind: str | Iterable[str] | None = None, sender: str | None = None,
                    limit: int = INBOX_LIMIT) -> list[dict]:
        """Messages for this identity (or ``alias``: its account's recovery key), oldest first:
        the newest ``limit`` (at most INBOX_LIMIT), read page by page, so no volume of
        messages makes the listing fail. ``kind`` (one or several) and ``sender`` are filtered
        by the gateway: what one looks for is found whatever else others sent. Share and
        sealed notices are decoded to ``row["share"]`` dicts (unless ``notices`` is False)."""
        kinds = [kind] if isinstance(kind, str) else list(kind or ())
        rows = await self._mailbox_pages(include_acked, alias, kinds, sender, max(1, min(limit, INBOX_LIMIT)))
        rows.sort(key=lambda r: (r.get("created") or 0, str(r.get("id"))))
        suffix = "?" + urlencode({"as": alias}) if alias else ""
        for row in rows:
            inline = row.pop("notice", None)
            if notices and row["kind"] in NOTICE_KINDS:  # the gateway's own notices (small JSON)
                if isinstance(inline, dict):
                    row["share"] = _notice_fields(inline, row)
                    continue
                try:  # a gateway that does not send them in the listing
                    body = (await self.request("GET", f"/v1/mailbox/{row['id']}{suffix}", limit=NOTICE_LIMIT)).body
                except LimitExceededError:
                    body = b""
                row["share"] = _notice(body, row)
        return await self._proven(rows, alias) if notices else rows

    async def _proven(self, rows: list[dict], alias: str | None) -> list[dict]:
        """The gateway's notices whose sender this client proved itself (``sender`` and the
        share's ``sharer`` set to it): a sealed one by the envelope's signed header, which
        names this identity; a share by the sharer's signed share proof, which names this
        identity and the capsule. A notice that proves nothing is dropped: who a share comes
        from is never the gateway's word."""
        mine = {self.identity.id} | ({alias} if alias else set())
        kept = []
        for row in rows:
            if row["kind"] not in NOTICE_KINDS:
                kept.append(row)
                continue
            key = (row.get("id"), alias)
            if key not in self._notice_senders:
                if len(self._notice_senders) >= MAX_REMEMBERED_NOTICES:
                    self._notice_senders.clear()
                self._notice_senders[key] = await self._notice_sender(row.get("share"), row["kind"], mine)
            proven = self._notice_senders[key]
            if proven is None:
                log.info("a %s notice whose sender is not proven was dropped", row["kind"])
                continue
            row["sender"], row["verified"] = proven[0], True
            row["share"] = {**row["share"], "sharer": proven[0], "expires": proven[1]}
            kept.append(row)
        return kept

    async def _notice_sender(self, notice, kind: str, mine: set) -> tuple | None:
        """(who sent it, its expiry) as signed, or None."""
        try:
            root = parse_cid(notice["root"]) if isinstance(notice, dict) else None
            if root is None:
                return None
            if kind == "sealed":
                header = await read_header(self.backend, root, self.get_block)
                return (header.sender_id, None) if any(e.recipient in mine for e in header.recipients) else None
            proofs = [codec.b64d(notice["proof"])] if isinstance(notice.get("proof"), str) else \
                await self._share_proofs(root)  # a notice from an older gateway: look the proof up
            for data in proofs:
                proof = await verify_proof(self.backend, data)
                if proof.statement == SHARED and proof.root == root and proof.recipient in mine and \
                        cid_str(proof.capsule) == notice.get("capsule"):
                    return proof.signer_id, proof.expires
        except (UnavailableError, PolicyUnavailableError):
            raise
        except (MeshKitError, ValueError, KeyError, TypeError):
            pass  # a notice that does not parse, or a proof that does not check: nothing proven
        return None

    async def proofs(self, root: bytes) -> list:
        """The signed proofs the gateway holds for ``root`` (core.proof.Proof), each checked
        here: its bytes hash to the CID the gateway listed, its signature verifies, and it is
        about ``root``. One that does not check is dropped (the gateway's word proves nothing);
        at most MAX_PROOFS_LOOKED_UP are looked at."""
        listed = (await self.request("GET", f"/v1/proofs?root={cid_str(root)}")).json().get("proofs", [])
        found = []
        for name in [n for n in listed if isinstance(n, str)][:MAX_PROOFS_LOOKED_UP]:
            try:
                data = (await self.request("GET", f"/v1/proofs/{cid_str(parse_cid(name))}")).body
                proof = await verify_proof(self.backend, data)
                if proof.root == root and cid_str(proof.cid) == cid_str(parse_cid(name)):
                    found.append(proof)
                    continue
            except (UnavailableError, PolicyUnavailableError):
                raise
            except (MeshKitError, ValueError, KeyError, TypeError):
                pass
            log.warning("proof %s for %s does not check: dropped", name[:16], cid_str(root)[:16])
        return found

    async def _share_proofs(self, root: bytes) -> list[bytes]:
        listed = (await self.request("GET", f"/v1/proofs?root={cid_str(root)}")).json()["proofs"]
        return [(await self.request("GET", f"/v1/proofs/{cid}")).body for cid in listed[:MAX_PROOFS_LOOKED_UP]]

    async def _mailbox_pages(self, include_acked: bool, alias: str | None, kinds: list[str], sender: str | None,
                             limit: int) -> list[dict]:
        """The newest ``limit`` listing rows, INBOX_PAGE at a time, following the gateway's cursor."""
        rows: list[dict] = []
        cursor = None
        for _ in range(-(-limit // INBOX_PAGE)):
            params = [("order", "newest"), ("limit", str(min(INBOX_PAGE, limit - len(rows))))]
            params += [(k, v) for k, v in (("all", "true" if include_acked else None), ("as", alias),
                                           ("sender", sender), ("cursor", cursor)) if v]
            params += [("kind", k) for k in kinds]
            page = (await self.request("GET", "/v1/mailbox?" + urlencode(params))).json()
            if "next" not in page:  # a gateway from before paging: everything, unfiltered, oldest first
                return [r for r in page["messages"] if (not kinds or r["kind"] in kinds)
                        and (sender is None or r["sender"] == sender)][-limit:]
            rows += page["messages"][:limit - len(rows)]
            cursor = page["next"]
            if not cursor or len(rows) >= limit:
                break
        return rows

    async def ack(self, message_id: str) -> None:
        await self.request("DELETE", f"/v1/mailbox/{message_id}")



NOTICE_LIMIT = 8192  # a share notice carries its proof
NOTICE_KINDS = ("share", "sealed")
MAX_REMEMBERED_NOTICES = 4096  # notices whose sender was proven, per client
MAX_PROOFS_LOOKED_UP = 32
MAX_ACCOUNT_PAGES = 64  # 64 x 256 versions of one account, read at most


def _notice(body: bytes, row: dict) -> dict | None:
    """A share or sealed notice as {root, capsule, sharer, expires, policy}: a sealed one has
    no capsule (the envelope names the recipient itself). None when it does not parse."""
    try:
        notice = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested past Python's stack
        return None
    return _notice_fields(notice, row)


def _notice_fields(notice, row: dict) -> dict | None:
    """_notice of a decoded body (the listing carries them decoded)."""
    if not isinstance(notice, dict) or not isinstance(notice.get("root"), str):
        return None
    if row["kind"] == "sealed":
        return {"root": notice["root"], "capsule": None, "sharer": row.get("sender"), "expires": None,
                "policy": None, "sealed": True}
    return notice

