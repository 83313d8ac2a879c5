"""Proofs: signed statements of who sealed or shared which root. They reveal who shared
what with whom, so only the parties of a root (its sender, its recipients, the sharers and
recipients of its shares) may read the proofs about it."""


from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from ...core.cid import cid_str, parse_cid
from ...core.errors import ForbiddenError, MissingMetadataError
from ...core import codec
from ...core.proof import SEALED, SHARED, verify_proof
from ..context import Gateway, envelope_header, parties_of
from ..http import CID_TEXT_MAX
from ..http import CBOR_MEDIA, binary_body, read_body
from .mailbox import post_notice


MAX_NOTIFIED = 256  # recipients of one envelope told of it (a larger list: the first ones)


def router(gw: Gateway) -> APIRouter:
    api = APIRouter(tags=["proofs"])
    store = gw.store

    async def require_party(identity: str, root: bytes) -> None:
        if not await gw.aliases(identity) & await parties_of(gw, root):
            raise ForbiddenError(f"only the parties of {cid_str(root)} may read its proofs")

    async def is_mailbox(ident: str) -> bool:
        """An identity in the directory, or the recovery key of a known account."""
        account, dot, rest = ident.partition(".")
        if dot:
            return rest == "recovery" and await store.latest_account(account) is not None
        return await store.get_identity(ident) is not None

    async def notify_recipients(sender: str, root: bytes) -> None:
        """A "sealed" notice to each recipient in the header of what ``sender`` sealed (not to
        the sender's own devices; an account's recovery key has a mailbox of its own):
        so an envelope sealed to someone shows up in their inbox, and in their account's
        library. The header's recipient ids are public already; names and sizes stay inside."""
        header = await envelope_header(gw, root)
        if header.sender_id != sender:
            return
        if await store.proof_count(cid_str(root), sender) > 1:  # sealed once: a second proof of it is no news
            return
        mine = await gw.own_devices(sender)
        notice = {"root": cid_str(root), "sender": sender}
        for entry in header.recipients[:MAX_NOTIFIED]:
            if entry.recipient not in mine and await is_mailbox(entry.recipient):
                await post_notice(gw, entry.recipient, sender, "sealed", notice)

    async def notify_share(sharer: str, proof) -> None:
        """A "share" notice to the recipient of a share, carrying the sharer's signed proof of
        it, so the recipient's client verifies who shared it (the gateway's word is not
        needed). Only for a capsule this sharer stored for that recipient, and never between
        devices of one account (a re-wrap is not news)."""
        capsule = await store.get_capsule(cid_str(proof.capsule))
        if capsule is None or capsule["sharer"] != sharer or capsule["recipient"] != proof.recipient:
            return
        if proof.recipient in await gw.own_devices(sharer) or not await is_mailbox(proof.recipient):
            return
        notice = {"root": cid_str(proof.root), "capsule": cid_str(proof.capsule), "sharer": sharer,
                  "expires": capsule["expires"], "policy": capsule["policy"], "proof": codec.b64e(proof.data)}
        await post_notice(gw, proof.recipient, sharer, "share", notice)

    @api.post("/v1/proofs", status_code=201, openapi_extra=binary_body("a signed proof (DAG-CBOR)", CBOR_MEDIA))
    async def put_proof(request: Request, identity: str = gw.requires("proofs")):
        proof = await verify_proof(gw.backend, await read_body(request, gw.config.max_message_size))
        if proof.signer_id != identity:
            raise ForbiddenError("a proof can only be stored by its signer")
        # only a party of the root says anything about it (nobody floods someone's listing)
        await require_party(identity, proof.root)
        new = await store.put_proof(cid_str(proof.cid), cid_str(proof.root), identity, proof.data,
                                    gw.config.storage_quota)
        await gw.audit(identity, "proof.put", cid_str(proof.cid))
        if new and proof.statement == SEALED:
            await notify_recipients(identity, proof.root)
        elif new and proof.statement == SHARED:
            await notify_share(identity, proof)
        return {"cid": cid_str(proof.cid), "statement": proof.statement}

    @api.get("/v1/proofs")
    async def find_proofs(root: str = Query(max_length=CID_TEXT_MAX), identity: str = gw.requires("proofs")):
        binary = parse_cid(root)
        await require_party(identity, binary)
        return {"proofs": await store.find_proofs(cid_str(binary))}

    @api.get("/v1/proofs/{cid}", responses={200: {"content": {CBOR_MEDIA: {}}}})
    async def get_proof(cid: str = Path(max_length=CID_TEXT_MAX), identity: str = gw.requires("proofs")):
        name = cid_str(parse_cid(cid))
        data = await store.get_proof(name)
        if data is None:
            raise MissingMetadataError(f"no proof {name}")
        await require_party(identity, (await verify_proof(gw.backend, data)).root)
        return Response(data, media_type=CBOR_MEDIA)

    return api
