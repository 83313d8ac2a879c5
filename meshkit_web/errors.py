"""The errors MeshKit raises, one class per code (``MeshKitError`` and its subclasses, each
with ``code``, ``status``, ``retryable`` and ``user``: the sentence a person reads).
``registry()`` lists every code; the CLI, the gateway and the browser package report the
same codes. This module is the public name for core/errors.py."""

from .core.errors import *  # noqa: F401,F403 - the public names of the one registry
from .core.errors import MeshKitError, error_for_code, registry  # noqa: F401 - named for readers and linters
