"""Capability tokens (JWT, HS256 via PyJWT) and the challenge that precedes them.

A challenge is itself a short-lived signed JWT, so any gateway instance sharing the key can
check it; its ``jti`` is recorded when answered, so it answers only once.
"""

import secrets
import time

import jwt

from ..core.errors import AuthError, ForbiddenError

CHALLENGE_AUDIENCE_SUFFIX = "#challenge"


class TokenIssuer:
    def __init__(self, key: bytes, audience: str, token_ttl: int, challenge_ttl: int):
        self._key = key
        self.audience = audience
        self.token_ttl = token_ttl
        self.challenge_ttl = challenge_ttl

    def challenge(self, identity: str) -> tuple[str, int]:
        expires = int(time.time()) + self.challenge_ttl
        claims = {"sub": identity, "aud": self.audience + CHALLENGE_AUDIENCE_SUFFIX, "exp": expires,
                  "jti": secrets.token_urlsafe(16)}
        return jwt.encode(claims, self._key, algorithm="HS256"), expires

    def check_challenge(self, challenge: str) -> dict:
        try:
            return jwt.decode(challenge, self._key, algorithms=["HS256"],
                              audience=self.audience + CHALLENGE_AUDIENCE_SUFFIX,
                              options={"require": ["sub", "aud", "exp", "jti"]})
        except jwt.PyJWTError as exc:
            raise AuthError(f"challenge rejected ({type(exc).__name__})") from None

    def issue(self, identity: str, scopes: list[str]) -> tuple[str, int]:
        now = int(time.time())
        claims = {"sub": identity, "aud": self.audience, "iat": now, "nbf": now - 5,
                  "exp": now + self.token_ttl, "scope": " ".join(sorted(set(scopes))),
                  "jti": secrets.token_urlsafe(12)}
        return jwt.encode(claims, self._key, algorithm="HS256"), claims["exp"]

    def verify(self, token: str, scope: str) -> str:
        """The identity a token speaks for, if it is valid, unexpired, ours and grants ``scope``."""
        try:
            claims = jwt.decode(token, self._key, algorithms=["HS256"], audience=self.audience,
                                options={"require": ["sub", "aud", "exp", "iat", "scope"]})
        except jwt.ExpiredSignatureError:
            raise AuthError("capability token expired") from None
        except jwt.PyJWTError as exc:
            raise AuthError(f"capability token rejected ({type(exc).__name__})") from None
        if scope not in str(claims["scope"]).split():
            raise ForbiddenError(f"capability token does not grant {scope!r}")
        return str(claims["sub"])
