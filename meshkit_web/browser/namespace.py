"""What an app's namespace names in the browser: the one rule, for Python and JS.

Everything MeshKit keeps in a browser origin is named from the namespace an app gives
``createMeshKit`` / ``createMeshKitWorker``: the IndexedDB database (identities, keys,
contacts, jobs), the BroadcastChannel (job and inbox news), Web Locks (one uploader per
job), Background Sync tags, Cache Storage (the runtime's files for offline starts) and
the page <-> service worker messages. MeshKit never mixes two apps', or two namespaces',
identities, jobs, events or caches. It separates data, not trust: the browser's boundary is
the origin, and any script on it can open any namespace's database and use its keys.

The default namespace keeps the names MeshKit used before namespaces existed, so data a
browser already holds stays where it was. A namespace's names contain ":", which neither a
default name nor a namespace can, so no namespace can reach another's (or the default's).
build.py writes this rule into the package's JS (namespace.js): one definition.
"""

import re

DEFAULT = "default"
# lower-case letters, digits and "-": safe in every name below, in URLs and in logs
PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"
# base: the IndexedDB database and the BroadcastChannel; prefix: locks, sync tags, caches
# and message types (prefix + "job-<id>", prefix + "outbox:<time>", prefix + <release>, ...)
LEGACY = {"base": "meshkit", "prefix": "meshkit-"}
SCOPED = {"base": "meshkit:{ns}", "prefix": "meshkit:{ns}:"}


class Names:
    """The names of one namespace."""

    def __init__(self, namespace: str = DEFAULT):
        namespace = check(namespace)
        self.namespace = namespace
        rule = LEGACY if namespace == DEFAULT else SCOPED
        self.base = rule["base"].format(ns=namespace)
        self.prefix = rule["prefix"].format(ns=namespace)

    @property
    def database(self) -> str:
        return self.base

    @property
    def channel(self) -> str:
        return self.base

    def lock(self, job_id: str) -> str:
        return self.prefix + "job-" + job_id


def check(namespace) -> str:
    """``namespace`` if it is one (else InvalidArgumentError): never a path, never empty."""
    from ..core.errors import InvalidArgumentError
    if not isinstance(namespace, str) or not re.fullmatch(PATTERN, namespace):
        raise InvalidArgumentError("a namespace is 1-40 lower-case letters, digits and '-', starting with a "
                                   "letter or digit")
    return namespace


def rule_json() -> dict:
    """The rule as build.py writes it for the JS side."""
    return {"default": DEFAULT, "pattern": PATTERN, "legacy": LEGACY, "scoped": SCOPED}
