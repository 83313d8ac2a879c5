"""WebCrypto backend for Pyodide (page and service worker): X25519, Ed25519, AES-256-GCM,
and X-Wing (MLKEM768-X25519, HPKE KEM 0x647A) where this browser's WebCrypto has it.

Private keys are CryptoKey objects generated NON-extractable: no code in the page, ours
included, can read their bytes; they persist as objects in IndexedDB. Byte-compatible
with the PyNaCl backend (same X25519 secrets, same Ed25519 signatures, same AES-GCM
ciphertext||tag), so envelopes move freely between the browser and CPython.

A browser without X25519 or Ed25519 in WebCrypto gets UnsupportedError from ``create``:
there is no silent weaker mode (Pyodide here has no libsodium to fall back on).

**Wrapped X25519 keys (WebKit).** Some engines (WebKitGTK 2.50, Safari) cannot put an
X25519 CryptoKey through structured clone, so IndexedDB cannot hold one. The store probes
for that at start (indexeddb.py, by storing a throwaway key: no user-agent sniffing) and
then calls ``keep_x25519_wrapped``. From then on ``x25519_generate`` makes the pair
EXTRACTABLE, wraps the private key at once (``wrapKey``, pkcs8, AES-KW) under a
non-extractable AES-KW key (which IndexedDB can store), unwraps it again as a
NON-extractable key and drops the extractable one: the handle keeps the non-extractable
key for use and the wrapped blob plus its wrapping key for storage. No raw key bytes ever
reach JS variables or Python. The trade-off, reported by ``capabilities()``: the key is
extractable for the moment of its creation, and the wrapped blob is only as safe as the
wrapping key beside it, so script running in this origin that can read IndexedDB could
``unwrapKey`` it as extractable and read the private key (a CryptoKey stored as such
cannot be read out, by anyone). Ed25519 and AES keys are stored as CryptoKeys there too;
engines that can store X25519 keys never take this path.

**X-Wing (post-quantum).** ``create`` probes for WebCrypto's "MLKEM768-X25519" once (a
throwaway pair: generate, export, encapsulate, decapsulate, the two secrets agree; no
user-agent sniffing). Where it works, seals wrap to recipients' X-Wing keys. An identity
gets an X-Wing key only where IndexedDB can keep it non-extractable (the store's probes,
indexeddb.py): as one MLKEM768-X25519 CryptoKey, or else as its two parts. Chromium 156's
IndexedDB drops an MLKEM768-X25519 CryptoKey but keeps ML-KEM-768 and X25519 ones, so there
the store calls ``keep_xwing_as_parts`` and ``xwing_generate`` makes an ML-KEM-768 pair and an
X25519 pair, both non-extractable (an ``XWingPartsHandle``): the public key is the two public
keys side by side, exactly an X-Wing public key (X-Wing's seed only encodes the same two
KeyGen outputs), and decapsulation runs each part in WebCrypto and joins the two secrets with
X-Wing's combiner (core/hpke.py). Where neither form can be kept, identities stay classic
rather than keep the key in a weaker form. A seed (the recovery key, in memory only) is
imported as a native MLKEM768-X25519 key, and seals always encapsulate natively.
Where WebCrypto lacks X-Wing (Firefox ESR, WebKitGTK here) seals wrap with X25519, visibly
(the entry has no ``kem``). ``pq_report()`` is what capabilities() says of it.
"""

from collections import deque

from ..core import codec
from ..core.backend import CryptoBackend, SecretHandle
from ..core.errors import InvalidArgumentError, KeyUnwrapError, UnsupportedError
from ..core.hpke import (MLKEM768_CT_LEN, MLKEM768_PUBLIC_LEN, XWING_CT_LEN, XWING_PUBLIC_LEN, XWING_SEED_LEN,
                         xwing_combine)
from .blob_source import JsBytes
from .ffi import JsException, js, js_bytes as _u8, to_js

_subtle = js.crypto.subtle
# PKCS#8 wrapping of a raw X25519 private scalar (RFC 8410): WebCrypto imports private
# X25519 keys only as pkcs8 or jwk. Used for HPKE test vectors, never for identities.
_X25519_PKCS8_PREFIX = bytes.fromhex("302e020100300506032b656e04220420")
_ED25519_PKCS8_PREFIX = bytes.fromhex("302e020100300506032b657004220420")
_GETRANDOM_MAX = 65536  # crypto.getRandomValues fills at most 64 KiB per call
XWING = "MLKEM768-X25519"  # WebCrypto's name for X-Wing (HPKE KEM 0x647A)
XWING_USAGES = ("encapsulateBits", "decapsulateBits")
MLKEM = "ML-KEM-768"  # an X-Wing key's ML-KEM part, where the key is held as its two parts
MLKEM_USAGES = XWING_USAGES


def _obj(**fields):
    return to_js(fields, dict_converter=js.Object.fromEntries)


def _usages(*names):
    return to_js(list(names))


def _why(exc: BaseException) -> str:
    return getattr(exc, "name", None) or type(exc).__name__


async def _probe_xwing() -> str | None:
    """None when this WebCrypto does X-Wing end to end (a throwaway pair: generate, export,
    encapsulate, decapsulate, both secrets the same), else what failed."""
    try:
        pair = await _subtle.generateKey(_obj(name=XWING), False, _usages(*XWING_USAGES))
        public = (await _subtle.exportKey("raw-public", pair.publicKey)).to_bytes()
        made = await _subtle.encapsulateBits(_obj(name=XWING), pair.publicKey)
        back = (await _subtle.decapsulateBits(_obj(name=XWING), pair.privateKey, made.ciphertext)).to_bytes()
    except (JsException, AttributeError) as exc:  # AttributeError: no encapsulateBits at all
        return f"this browser's WebCrypto has no {XWING} ({_why(exc)})"
    if len(public) != XWING_PUBLIC_LEN or made.ciphertext.byteLength != XWING_CT_LEN:
        return f"this browser's {XWING} keys are not X-Wing's size"
    if back != made.sharedKey.to_bytes() or len(back) != 32:
        return f"this browser's {XWING} decapsulation disagrees with its encapsulation"
    return None


class CryptoKeyHandle(SecretHandle):
    """Wraps a non-extractable CryptoKey; ``key`` is the JS object (stored in IndexedDB as is).
    A wrapped X25519 key (see above) also carries what is stored instead of ``key``:
    ``wrapped`` (the AES-KW-wrapped pkcs8 blob, bytes) and ``wrapping_key`` (the
    non-extractable AES-KW CryptoKey that unwraps it)."""

    __slots__ = ("key", "wrapped", "wrapping_key")

    def __init__(self, key, wrapped: bytes | None = None, wrapping_key=None):
        self.key = key
        self.wrapped = wrapped
        self.wrapping_key = wrapping_key


class XWingPartsHandle(SecretHandle):
    """An X-Wing private key held as its two parts, each a non-extractable CryptoKey that
    IndexedDB can store: ``mlkem`` (ML-KEM-768, decapsulateBits) and ``x25519`` (deriveBits),
    with ``public``, the 1216-byte X-Wing public key (its last 32 bytes are X25519's, which
    the combiner needs)."""

    __slots__ = ("mlkem", "x25519", "public")

    def __init__(self, mlkem, x25519, public: bytes):
        if len(public) != XWING_PUBLIC_LEN:
            raise InvalidArgumentError("an X-Wing public key is 1216 bytes")
        self.mlkem = mlkem
        self.x25519 = x25519
        self.public = bytes(public)


class WebCryptoBackend(CryptoBackend):
    name = "webcrypto"
    # WebCrypto runs each operation off the page's thread: 4 segments in flight keep both
    # cores busy (measured: depth 2 -> 4 took in-page seal 125 -> 150 MiB/s, open 154 -> 183)
    pipeline_depth = 4

    RECENT_BLOCKS = 8  # JS copies of blocks kept for reuse: the segments in flight and one upload batch

    WRAP_ALGORITHM = "AES-KW"  # what wraps X25519 keys where they cannot be stored as CryptoKeys
    WRAP_FORMAT = "pkcs8"

    def __init__(self):
        # None: X25519 private keys are CryptoKeys, stored as such; else why they are wrapped
        self.x25519_wrapped_because: str | None = None
        # None: WebCrypto does X-Wing (create's probe); else why not
        self.xwing_missing: str | None = "not probed"
        # None: an X-Wing private key can be kept here (the store's probe); else why not
        self.xwing_unstorable: str | None = None
        # True: X-Wing keys are made as two parts (ML-KEM-768 + X25519 CryptoKeys), which the store can keep
        self.xwing_as_parts = False
        self._wrapping_key = None  # this session's AES-KW key (non-extractable), made on first use
        self._public_keys: dict[tuple[str, bytes], object] = {}  # imported peer keys, reused
        # JS copies of the last blocks that crossed into (or out of) JS: a block is hashed and
        # then decrypted (open), or sealed and then uploaded (seal), so one copy serves both.
        self._recent: deque = deque(maxlen=self.RECENT_BLOCKS)

    def js_array(self, data) -> "js.Uint8Array":
        """A JS Uint8Array of ``data``, reusing the copy of the same (immutable) bytes object
        made when it was sealed or hashed; otherwise a new copy."""
        for held, array in self._recent:
            if held is data:
                return array
        array = _u8(data)
        self.remember_js(data, array)
        return array

    def remember_js(self, data: bytes, array) -> None:
        """``array`` holds the same bytes as ``data`` (a block just sealed or fetched): reuse
        it for the next use of ``data`` (only blocks: small values are cheap to copy)."""
        if isinstance(data, bytes) and len(data) >= 65536:
            self._recent.append((data, array))

    @classmethod
    async def create(cls) -> "WebCryptoBackend":
        """A backend, after checking that this browser's WebCrypto has every algorithm."""
        backend = cls()
        missing = []
        for algorithm, usages in (("X25519", ("deriveBits",)), ("Ed25519", ("sign", "verify"))):
            try:
                await _subtle.generateKey(_obj(name=algorithm), False, _usages(*usages))
            except JsException:
                missing.append(algorithm)
        if missing:
            raise UnsupportedError(f"this browser's WebCrypto lacks {' and '.join(missing)}; "
                                   "MeshKit needs both for non-extractable keys")
        backend.xwing_missing = await _probe_xwing()
        return backend

    def keep_no_xwing_keys(self, because: str) -> None:
        """This engine cannot store an X-Wing CryptoKey (the store's probe): identities made
        from now on are classic (seals still wrap to others' X-Wing keys); the report says why."""
        self.xwing_unstorable = because

    def keep_xwing_as_parts(self) -> None:
        """This engine's IndexedDB cannot store an X-Wing CryptoKey but keeps ML-KEM-768 and
        X25519 ones (the store's probes): X-Wing keys made from now on are those two parts."""
        self.xwing_unstorable = None
        self.xwing_as_parts = True

    def keep_x25519_wrapped(self, because: str) -> None:
        """X25519 private keys made from now on are kept wrapped (this engine cannot store an
        X25519 CryptoKey: ``because`` says what the probe saw)."""
        self.x25519_wrapped_because = because

    def key_report(self) -> dict:
        """How private keys are held and stored here, exactly (runtime capabilities' ``keys``)."""
        # WebCrypto does these natively (checked by create(); AES-KW, where keys are wrapped, by
        # each wrap: creating an identity fails if it does not work); HKDF and HMAC run in
        # Python (core.kdf), never on a key kept here
        native = ["X25519", "Ed25519", "AES-GCM", "SHA-256"] + ([XWING] if self.xwing_missing is None else []) \
            + ([MLKEM] if self.xwing_as_parts else [])
        if self.x25519_wrapped_because is None:
            return {"storage": "cryptokey", "native": native,
                    "x25519": "cryptokey", "ed25519": "cryptokey",
                    "detail": "private keys are generated non-extractable and stored as CryptoKey objects: "
                              "their bytes cannot be read, not even by this page"}
        return {"storage": "wrapped", "native": native + [self.WRAP_ALGORITHM],
                "x25519": "wrapped", "ed25519": "cryptokey",
                "wrap": {"algorithm": self.WRAP_ALGORITHM, "format": self.WRAP_FORMAT},
                "because": self.x25519_wrapped_because,
                "detail": "this browser cannot store an X25519 CryptoKey, so the X25519 private key is stored "
                          "wrapped (pkcs8, AES-KW) under a non-extractable AES key kept beside it, and unwrapped "
                          "as a non-extractable key to be used. Weaker than a stored CryptoKey: the key is "
                          "extractable for the moment it is created, and script running in this site that can "
                          "read its IndexedDB could unwrap it as extractable and read it. The Ed25519 signing "
                          "key is stored as a non-extractable CryptoKey."}

    def capabilities(self) -> dict:
        wrapped = self.x25519_wrapped_because is not None
        return {"backend": self.name,
                "key_storage": ("X25519: wrapped (AES-KW) under a stored non-extractable key; Ed25519: "
                                "non-extractable CryptoKey objects" if wrapped else
                                "non-extractable WebCrypto CryptoKey objects"),
                "non_exportable_keys": not wrapped}

    def pq_support(self) -> dict:
        native = self.xwing_missing is None
        return {"keys": native and self.xwing_unstorable is None, "seed": native, "encapsulate": native}

    def pq_report(self) -> dict:
        """What capabilities() says of post-quantum protection here, in plain words."""
        if self.xwing_missing is not None:
            return {"keys": "none", "wrap_to_hybrid": False, "because": self.xwing_missing,
                    "detail": "post-quantum: not in this browser. Identities made here have no X-Wing key, so "
                              "senders wrap files to them with X25519; files sent from here are wrapped with "
                              "X25519 too, even to people who have an X-Wing key (their entries say no kem)"}
        if self.xwing_unstorable is not None:
            return {"keys": "none", "wrap_to_hybrid": True, "because": self.xwing_unstorable,
                    "detail": "post-quantum: partly. Files sent from here to people who have an X-Wing key "
                              "(ML-KEM-768 + X25519) are wrapped with it, but this browser cannot keep an X-Wing "
                              "key as a non-extractable CryptoKey in IndexedDB, so identities made here have "
                              "none and senders wrap to them with X25519"}
        if self.xwing_as_parts:
            return {"keys": "x-wing", "wrap_to_hybrid": True,
                    "detail": "post-quantum: identities made in this browser get an X-Wing key (ML-KEM-768 + "
                              "X25519), kept as two non-extractable CryptoKeys (ML-KEM-768 and X25519) in "
                              "IndexedDB, combined as X-Wing (this browser cannot store an X-Wing CryptoKey "
                              "itself); files sent from here to people who have one are wrapped with X-Wing"}
        return {"keys": "x-wing", "wrap_to_hybrid": True,
                "detail": "post-quantum: identities made in this browser get an X-Wing key (ML-KEM-768 + "
                          "X25519), non-extractable and stored as a CryptoKey; files sent from here to "
                          "people who have one are wrapped with X-Wing"}

    async def sha256(self, data) -> bytes:
        # WebCrypto's digest runs natively, off the page's thread: ~3x hashlib in wasm
        return (await _subtle.digest("SHA-256", self.js_array(data))).to_bytes()

    async def random_bytes(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            chunk = js.Uint8Array.new(min(n - len(out), _GETRANDOM_MAX))
            js.crypto.getRandomValues(chunk)
            out += chunk.to_bytes()
        return bytes(out)

    # --- X25519 --------------------------------------------------------------------------
    async def x25519_generate(self) -> tuple[SecretHandle, bytes]:
        if self.x25519_wrapped_because is not None:
            return await self._x25519_generate_wrapped()
        pair = await _subtle.generateKey(_obj(name="X25519"), False, _usages("deriveBits"))
        public = (await _subtle.exportKey("raw", pair.publicKey)).to_bytes()
        return CryptoKeyHandle(pair.privateKey), public

    async def _x25519_generate_wrapped(self) -> tuple[SecretHandle, bytes]:
        """For an engine that cannot store X25519 CryptoKeys: the pair is made extractable only
        so that its private key can be wrapped (wrapKey runs inside WebCrypto: its bytes never
        reach JS variables or Python), then unwrapped as a non-extractable key; the
        extractable one is dropped right here. HPKE's ephemeral keys come this way too (never
        stored: two needless WebCrypto calls per recipient of a seal, on these engines only)."""
        if self._wrapping_key is None:
            self._wrapping_key = await _subtle.generateKey(_obj(name=self.WRAP_ALGORITHM, length=256), False,
                                                           _usages("wrapKey", "unwrapKey"))
        pair = await _subtle.generateKey(_obj(name="X25519"), True, _usages("deriveBits"))
        try:
            public = (await _subtle.exportKey("raw", pair.publicKey)).to_bytes()
            wrapped = (await _subtle.wrapKey(self.WRAP_FORMAT, pair.privateKey, self._wrapping_key,
                                             self.WRAP_ALGORITHM)).to_bytes()
        finally:
            del pair  # the only reference to the extractable key
        return await self.x25519_unwrap(wrapped, self._wrapping_key), public

    async def x25519_unwrap(self, wrapped: bytes, wrapping_key) -> CryptoKeyHandle:
        """The non-extractable X25519 key a wrapped blob holds (a stored identity's, on load)."""
        key = await _subtle.unwrapKey(self.WRAP_FORMAT, _u8(wrapped), wrapping_key, self.WRAP_ALGORITHM,
                                      _obj(name="X25519"), False, _usages("deriveBits"))
        return CryptoKeyHandle(key, wrapped=bytes(wrapped), wrapping_key=wrapping_key)

    async def x25519_import_private(self, raw: bytes) -> tuple[SecretHandle, bytes]:
        if len(raw) != 32:
            raise InvalidArgumentError("an X25519 private key is 32 bytes")
        private = await _subtle.importKey("pkcs8", _u8(_X25519_PKCS8_PREFIX + raw), _obj(name="X25519"),
                                          False, _usages("deriveBits"))
        # WebCrypto derives no public key from an imported private one: DH with the base point
        base = bytes([9]) + bytes(31)
        public = await self.x25519(CryptoKeyHandle(private), base)
        return CryptoKeyHandle(private), public

    async def _public(self, algorithm: str, raw: bytes, usages: tuple[str, ...], form: str = "raw"):
        cache_key = (algorithm, bytes(raw))
        key = self._public_keys.get(cache_key)
        if key is None:
            key = await _subtle.importKey(form, _u8(raw), _obj(name=algorithm), True, _usages(*usages))
            if len(self._public_keys) > 256:
                self._public_keys.clear()
            self._public_keys[cache_key] = key
        return key

    async def x25519(self, private: SecretHandle, peer_public: bytes) -> bytes:
        if len(peer_public) != 32:
            raise KeyUnwrapError("X25519 public keys are 32 bytes")
        try:
            peer = await self._public("X25519", peer_public, ())
            shared = (await _subtle.deriveBits(_obj(name="X25519", public=peer), private.key, 256)).to_bytes()
        except JsException:
            # Chromium rejects a low-order peer (all-zero shared secret) with OperationError
            raise KeyUnwrapError("X25519 key agreement failed (invalid or low-order public key)") from None
        if shared == bytes(32):
            raise KeyUnwrapError("X25519 key agreement failed (invalid or low-order public key)")
        return shared

    # --- X-Wing (MLKEM768-X25519) ---------------------------------------------------------
    def _need_xwing(self) -> None:
        if self.xwing_missing is not None:
            raise UnsupportedError(f"post-quantum (X-Wing) keys are not available here: {self.xwing_missing}")

    async def xwing_generate(self) -> tuple[SecretHandle, bytes]:
        self._need_xwing()
        if self.xwing_as_parts:
            return await self._xwing_generate_parts()
        pair = await _subtle.generateKey(_obj(name=XWING), False, _usages(*XWING_USAGES))
        public = (await _subtle.exportKey("raw-public", pair.publicKey)).to_bytes()
        return CryptoKeyHandle(pair.privateKey), public

    async def _xwing_generate_parts(self) -> tuple[SecretHandle, bytes]:
        """An X-Wing key as its two KeyGen outputs, each its own non-extractable CryptoKey
        (never the identity's enc_key: X-Wing's X25519 part is a key of its own)."""
        mlkem = await _subtle.generateKey(_obj(name=MLKEM), False, _usages(*MLKEM_USAGES))
        x25519 = await _subtle.generateKey(_obj(name="X25519"), False, _usages("deriveBits"))
        public = (await _subtle.exportKey("raw-public", mlkem.publicKey)).to_bytes() + \
            (await _subtle.exportKey("raw", x25519.publicKey)).to_bytes()
        return XWingPartsHandle(mlkem.privateKey, x25519.privateKey, public), public

    async def xwing_import_seed(self, seed: bytes) -> tuple[SecretHandle, bytes]:
        """A non-extractable key for a known seed; its public key from getPublicKey (the
        private key never leaves WebCrypto)."""
        self._need_xwing()
        if len(seed) != XWING_SEED_LEN:
            raise InvalidArgumentError("an X-Wing private key (seed) is 32 bytes")
        private = await _subtle.importKey("raw-seed", _u8(seed), _obj(name=XWING), False, _usages("decapsulateBits"))
        try:
            public_key = await _subtle.getPublicKey(private, _usages("encapsulateBits"))
        except (JsException, AttributeError) as exc:
            raise UnsupportedError(f"this browser cannot derive an X-Wing public key ({_why(exc)})") from None
        return CryptoKeyHandle(private), (await _subtle.exportKey("raw-public", public_key)).to_bytes()

    async def xwing_encapsulate(self, public: bytes) -> tuple[bytes, bytes]:
        self._need_xwing()
        if len(public) != XWING_PUBLIC_LEN:
            raise KeyUnwrapError("an X-Wing public key is 1216 bytes")
        try:
            key = await self._public(XWING, public, ("encapsulateBits",), "raw-public")
            made = await _subtle.encapsulateBits(_obj(name=XWING), key)
        except JsException:  # an invalid ML-KEM key, or a low-order X25519 share
            raise KeyUnwrapError("X-Wing: the public key is invalid") from None
        return made.sharedKey.to_bytes(), made.ciphertext.to_bytes()

    async def xwing_decapsulate(self, private: SecretHandle, ciphertext: bytes) -> bytes:
        if len(ciphertext) != XWING_CT_LEN:
            raise KeyUnwrapError("X-Wing: the encapsulated key has the wrong length")
        if isinstance(private, XWingPartsHandle):  # needs ML-KEM-768 and X25519 only
            return await self._xwing_decapsulate_parts(private, ciphertext)
        self._need_xwing()
        try:
            return (await _subtle.decapsulateBits(_obj(name=XWING), private.key, _u8(ciphertext))).to_bytes()
        except JsException:  # a low-order X25519 share (ML-KEM itself rejects implicitly)
            raise KeyUnwrapError("X-Wing: the encapsulated key is invalid") from None

    async def _xwing_decapsulate_parts(self, private: XWingPartsHandle, ciphertext: bytes) -> bytes:
        """X-Wing's Decaps over the two parts: ML-KEM-768 and X25519 each in WebCrypto, then
        the combiner, exactly as a native key (or CPython) computes it."""
        ct_m, ct_x = ciphertext[:MLKEM768_CT_LEN], ciphertext[MLKEM768_CT_LEN:]
        try:  # implicit rejection: a bad ML-KEM ciphertext gives a wrong secret, not an error
            ss_m = (await _subtle.decapsulateBits(_obj(name=MLKEM), private.mlkem, _u8(ct_m))).to_bytes()
        except JsException:
            raise KeyUnwrapError("X-Wing: the encapsulated key is invalid") from None
        ss_x = await self.x25519(CryptoKeyHandle(private.x25519), ct_x)  # KeyUnwrapError for a low-order share
        return xwing_combine(ss_m, ss_x, ct_x, private.public[MLKEM768_PUBLIC_LEN:])

    # --- Ed25519 -------------------------------------------------------------------------
    async def ed25519_generate(self) -> tuple[SecretHandle, bytes]:
        pair = await _subtle.generateKey(_obj(name="Ed25519"), False, _usages("sign", "verify"))
        public = (await _subtle.exportKey("raw", pair.publicKey)).to_bytes()
        return CryptoKeyHandle(pair.privateKey), public

    async def ed25519_import_private(self, seed: bytes) -> tuple[SecretHandle, bytes]:
        """A non-extractable signing key for a derived seed. WebCrypto derives no public key
        from a private one: a short-lived extractable copy gives it (its JWK ``x``), then the
        key that is kept is imported non-extractable."""
        if len(seed) != 32:
            raise InvalidArgumentError("an Ed25519 seed is 32 bytes")
        pkcs8 = _u8(_ED25519_PKCS8_PREFIX + seed)
        temporary = await _subtle.importKey("pkcs8", pkcs8, _obj(name="Ed25519"), True, _usages("sign"))
        jwk = await _subtle.exportKey("jwk", temporary)
        public = codec.b64d(str(jwk.x))
        private = await _subtle.importKey("pkcs8", pkcs8, _obj(name="Ed25519"), False, _usages("sign"))
        return CryptoKeyHandle(private), public

    async def ed25519_sign(self, private: SecretHandle, message: bytes) -> bytes:
        return (await _subtle.sign(_obj(name="Ed25519"), private.key, _u8(message))).to_bytes()

    async def ed25519_verify(self, public: bytes, message: bytes, signature: bytes) -> bool:
        if len(public) != 32 or len(signature) != 64:
            return False
        try:
            key = await self._public("Ed25519", public, ("verify",))
            return bool(await _subtle.verify(_obj(name="Ed25519"), key, _u8(signature), _u8(message)))
        except JsException:
            return False  # an invalid public key point: the signature cannot be valid

    # --- AES-GCM ---------------------------------------------------------------------------
    async def aead_key(self, key: bytes) -> SecretHandle:
        if len(key) not in (16, 32):
            raise InvalidArgumentError("AES-GCM keys are 16 or 32 bytes")
        handle = await _subtle.importKey("raw", _u8(key), _obj(name="AES-GCM"), False,
                                         _usages("encrypt", "decrypt"))
        return CryptoKeyHandle(handle)

    async def aead_seal(self, key: SecretHandle, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        params = _obj(name="AES-GCM", iv=_u8(nonce), additionalData=_u8(aad), tagLength=128)
        sealed = js.Uint8Array.new(await _subtle.encrypt(params, key.key, _u8(plaintext)))
        data = sealed.to_bytes()
        self.remember_js(data, sealed)  # Core hashes this block next
        return data

    async def seal_segment(self, key: SecretHandle, nonce: bytes, plaintext) -> tuple[bytes, bytes]:
        """Encrypt, then hash the ciphertext still on the JS side; ``plaintext`` may be a
        JsBytes (a view of the picked file, never copied into Python)."""
        source = plaintext.array if isinstance(plaintext, JsBytes) else _u8(plaintext)
        params = _obj(name="AES-GCM", iv=_u8(nonce), tagLength=128)
        sealed = await _subtle.encrypt(params, key.key, source)
        digest = await _subtle.digest("SHA-256", sealed)
        view = js.Uint8Array.new(sealed)
        data = view.to_bytes()
        self.remember_js(data, view)  # the upload sends this block next
        return data, digest.to_bytes()

    async def aead_open(self, key: SecretHandle, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes | None:
        params = _obj(name="AES-GCM", iv=_u8(nonce), additionalData=_u8(aad), tagLength=128)
        try:
            return (await _subtle.decrypt(params, key.key, self.js_array(ciphertext))).to_bytes()
        except JsException:
            return None  # OperationError: authentication failed, no plaintext released
