"""Login: a challenge, answered with a signature over (the URL the client chose, the
challenge), for a short-lived capability token (core.auth explains the binding)."""

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from ...core import codec
from ...core.auth import challenge_message
from ...core.errors import AuthError, ForbiddenError, UnknownIdentityError
from ...core.identity import record_from_bytes
from ..config import SCOPES
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

    @api.post("/v1/auth/challenge", response_model=ChallengeResponse, dependencies=[gw.anonymous_limit("challenge")])
    async def auth_challenge(body: ChallengeRequest):
        if await gw.store.get_identity(body.id) is None:
            raise UnknownIdentityError(f"identity {body.id} is not published in the directory")
        challenge, expires = gw.issuer.challenge(body.id)
        return {"challenge": challenge, "audience": gw.config.audience, "expires": expires}

    @api.post("/v1/auth/token", response_model=TokenResponse, dependencies=[gw.anonymous_limit("challenge")])
    async def auth_token(request: Request, body: TokenRequest):
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
        await gw.require_current_device(public.id)
        if not await gw.challenges.use(claims["jti"], claims["exp"]):
            raise AuthError("challenge was already answered")
        token, expires = gw.issuer.issue(public.id, body.scopes)
        await gw.audit(public.id, "auth.token", " ".join(sorted(body.scopes)))
        return {"token": token, "expires": expires, "scopes": sorted(set(body.scopes))}

    return api
