"""An example policy provider implementing the gateway's policy contract (docs/GATEWAY.md).

    python -m meshkit_web.gateway.policy_example --rules rules.json [--port 8766]

rules.json maps a policy reference to a rule:

    {"team-only": {"allow": ["mk...", "mk..."]},   # these recipients only
     "open":      {"allow": "*"},                  # anyone the capsule names
     "frozen":    {"deny": "all shares under this policy are frozen"}}

An unknown policy reference is denied (fail closed). The rules file is re-read on every
decision so it can be edited while the provider runs.
"""

import argparse
import json

from fastapi import FastAPI
from pydantic import BaseModel, Field


class Decide(BaseModel):
    policy: str = Field(max_length=512)
    root: str
    capsule: str
    sharer: str
    recipient: str


def create_policy_app(rules_path: str) -> FastAPI:
    app = FastAPI(title="MeshKit example policy provider")

    @app.post("/v1/decide")
    async def decide(request: Decide):
        with open(rules_path) as f:
            rules = json.load(f)
        rule = rules.get(request.policy)
        if not isinstance(rule, dict):
            return {"decision": "deny", "reason": f"unknown policy {request.policy!r}"}
        if "deny" in rule:
            return {"decision": "deny", "reason": str(rule["deny"])}
        allowed = rule.get("allow")
        if allowed == "*" or (isinstance(allowed, list) and request.recipient in allowed):
            return {"decision": "allow", "reason": "rule matched"}
        return {"decision": "deny", "reason": "recipient not allowed by this policy"}

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok"}

    return app


def main() -> None:
    import uvicorn
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rules", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()
    uvicorn.run(create_policy_app(args.rules), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
