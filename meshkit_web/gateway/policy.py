"""Client for the policy provider's HTTP contract (docs/GATEWAY.md, "Policy provider").

    POST {policy_url}/v1/decide   {"policy", "root", "capsule", "sharer", "recipient"}
    200 {"decision": "allow" | "deny", "reason": "..."}

Anything else (no provider configured, unreachable, timeout, non-200, malformed body,
unknown decision) is "policy unavailable": the capsule is never released.
"""

import httpx

from ..core.errors import PolicyDeniedError, PolicyUnavailableError


class PolicyClient:
    def __init__(self, base_url: str | None, timeout: float):
        self.base_url = base_url.rstrip("/") if base_url else None
        self._client = httpx.AsyncClient(timeout=timeout) if base_url else None

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def require_allow(self, policy: str, *, root: str, capsule: str, sharer: str, recipient: str) -> None:
        if self._client is None:
            raise PolicyUnavailableError(f"policy {policy!r} applies but no policy provider is configured")
        request = {"policy": policy, "root": root, "capsule": capsule, "sharer": sharer, "recipient": recipient}
        try:
            response = await self._client.post(self.base_url + "/v1/decide", json=request)
        except httpx.HTTPError as exc:
            raise PolicyUnavailableError(f"policy provider unreachable ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise PolicyUnavailableError(f"policy provider answered HTTP {response.status_code}")
        try:
            body = response.json()
            decision = body["decision"]
        except (ValueError, KeyError, TypeError):
            raise PolicyUnavailableError("policy provider's answer is malformed") from None
        if decision == "allow":
            return
        if decision == "deny":
            reason = body.get("reason") if isinstance(body.get("reason"), str) else ""
            raise PolicyDeniedError(f"policy {policy!r} denies this open" + (f": {reason[:200]}" if reason else ""))
        raise PolicyUnavailableError("policy provider's decision is neither allow nor deny")
