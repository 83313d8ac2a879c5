"""Writes tests/vectors/send-link-v1.json: FORMAT.md 5.4 worked out on a fixed secret.
    .venv/bin/python scripts/make_send_link_vectors.py
"""

import asyncio
import json
import pathlib

from meshkit_web.core import kdf
from meshkit_web.core.cid import DAG_CBOR, cid_bytes, cid_str
from meshkit_web.core.send_link import PQ_INFO, SALT, link_identity, send_fragment
from meshkit_web.crypto.nacl_backend import NaclBackend

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "vectors" / "send-link-v1.json"
SECRET = bytes(range(100, 132))
ROOT = cid_bytes(DAG_CBOR, b"an envelope header")


async def main() -> None:
    identity = await link_identity(NaclBackend(), SECRET)
    vector = {"secret_hex": SECRET.hex(), "root": cid_str(ROOT), "fragment": send_fragment(ROOT, SECRET),
              "id": identity.id, "sig_key_hex": identity.public.sig_key.hex(),
              "enc_key_hex": identity.public.enc_key.hex(), "name": identity.public.name,
              "created": identity.public.created,
              # the X-Wing key (where the runtime holds X-Wing keys): its seed and public key
              "pq_seed_hex": kdf.hkdf(SECRET, PQ_INFO, 32, salt=SALT).hex(),
              "pq_key_hex": identity.public.pq_key.hex(), "record_hex": identity.public.to_bytes().hex()}
    OUT.write_text(json.dumps(vector, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
