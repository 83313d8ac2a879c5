"""Login: a challenge, answered with a signature over (the URL the client chose, the
challenge), for a short-lived capability token (core.auth explains the binding).

Limits (docs/GATEWAY.md): anonymous probes (challenges for unpublished ids, wrong or
replayed answers) count per client address; real logins count per identity, after the
signature checks out. So nobody's noise, from any address, keeps a key holder out."""

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from ...core import codec
from ...core.auth import SCOPES, challenge_message
from ...core.errors import (AuthError, EnvelopeFormatError, ForbiddenError, MeshKitError, RateLimitedError,
                            UnknownIdentityError)
from ...core.identity import record_from_bytes
from ..context import Gateway


class ChallengeRequest(BaseModel):
    id: str = Field(min_length=1, max_length=64, description="identity id (published in the directory)")


class ChallengeResponse(BaseModel):
    challenge: str
    audience: str
    expires: int


class TokenRequest(BaseModel):
    challenge: str = Field(max_length=2048)
    signature: str = Field(max_length=128, description="base64url Ed25519 signature of core.auth.challenge_message "
                                                       "over the gateway URL the client uses and the challenge")
    scopes: list[str] = Field(max_length=len(SCOPES))


class TokenResponse(BaseModel):
    token: str
    expires: int
    scopes: list[str]


def router(gw: Gateway) -> APIRouter:
    api = APIRouter(tags=["auth"])

    async def probe(request: Request, refused: MeshKitError) -> MeshKitError:
        """An anonymous request that got nowhere (a challenge for an unpublished id, a wrong
        or replayed answer): counted in the address's probe budget, never against a login.
        Past the budget it is refused as rate_limited; either way nothing was granted."""
        try:
            await gw.limit_anonymous(request, "challenge", "failed logins and challenges for unknown ids")
        except RateLimitedError as exc:
            return exc
        return refused

    @api.post("/v1/auth/challenge", response_model=ChallengeResponse)
    async def auth_challenge(request: Request, body: ChallengeRequest):
        """A challenge for a published identity is never refused by anyone else's requests:
        it costs one indexed read and an HMAC, stores nothing, and only its key can answer it."""
        if await gw.store.get_identity(body.id) is None:
            raise await probe(request, UnknownIdentityError(f"identity {body.id} is not published in the directory"))
        challenge, expires = gw.issuer.challenge(body.id)
        return {"challenge": challenge, "audience": gw.config.audience, "expires": expires}

    @api.post("/v1/auth/token", response_model=TokenResponse)
    async def auth_token(request: Request, body: TokenRequest):
        try:
            claims, public = await checked_answer(request, body)
        except (AuthError, EnvelopeFormatError, ForbiddenError, UnknownIdentityError) as exc:
            raise await probe(request, exc) from None
        # a real login: bounded per identity, after its signature checked out (an address's
        # anonymous noise never stands in its way)
        await gw.limit(gw.login_rate, f"too many logins as {public.id}", "login", public.id)
        if not await gw.store.use_challenge(claims["jti"], claims["exp"]):  # after the limit: a paced retry still works
            raise await probe(request, AuthError("challenge was already answered"))
        await gw.require_current_device(public.id)
        token, expires = gw.issuer.issue(public.id, body.scopes)
        await gw.audit(public.id, "auth.token", " ".join(sorted(body.scopes)))
        return {"token": token, "expires": expires, "scopes": sorted(set(body.scopes))}

    async def checked_answer(request: Request, body: TokenRequest):
        """(the challenge's claims, the identity whose key signed it for this gateway's URL);
        the typed error of the first check that fails otherwise."""
        claims = gw.issuer.check_challenge(body.challenge)
        unknown = set(body.scopes) - set(SCOPES)
        if unknown or not body.scopes:
            raise ForbiddenError("unknown or empty scopes requested")
        record = await gw.store.get_identity(claims["sub"])
        if record is None:
            raise UnknownIdentityError(f"identity {claims['sub']} is not published in the directory")
        public = await record_from_bytes(gw.backend, record)
        signature = codec.b64d(body.signature)
        if len(signature) != 64 or not any([await gw.backend.ed25519_verify(
                public.sig_key, challenge_message(url, body.challenge), signature) for url in gw.own_urls(request)]):
            # anonymous: counted for the identity, never written into its audit view
            await gw.store.count_anonymous(public.id, "auth.bad_signature")
            # the URLs are this gateway's own public addresses: telling them helps an operator
            # whose clients use another name (--public-url), and reveals nothing secret
            raise AuthError("challenge signature does not verify for this gateway's URL (it answers logins "
                            "for " + ", ".join(sorted(gw.own_urls(request))[:4]) + ")")
        return claims, public

    return api
