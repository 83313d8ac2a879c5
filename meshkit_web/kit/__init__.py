"""The Python runtime's public API (docs/PYTHON.md): ``MeshKit`` and what it answers."""

from ..core.errors import MeshKitError
from .api import MeshKit
from .types import (Access, AccessEntry, Contact, CreatedIdentity, Deleted, Described, Device, EnvelopeEntry,
                    Identity, InboxMessage, Library, LibraryShare, LinkRequest, Message, NewRecoveryPhrase, Opened, Proof,
                    RecoveredIdentity, Record,
                    Sealed, SendLink, SentMessage, Share, ShareState, Usage)

__all__ = ["MeshKit", "MeshKitError", "Access", "AccessEntry", "Contact", "CreatedIdentity", "Deleted", "Described",
           "Device", "EnvelopeEntry", "Identity", "InboxMessage", "Library", "LibraryShare", "LinkRequest", "Message", "NewRecoveryPhrase",
           "Opened",
           "Proof", "RecoveredIdentity", "Record", "Sealed", "SendLink", "SentMessage", "Share", "ShareState",
           "Usage"]
