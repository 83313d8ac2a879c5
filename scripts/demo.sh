#!/usr/bin/env bash
# The CLI demo behind `make demo`: identities, an envelope in a CAR and through a gateway,
# shares and revocation, and opens that fail closed.
set -euo pipefail
cd "$(dirname "$0")/.."
MESHKIT=".venv/bin/meshkit"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "alice and bob each create an identity (keys stay in their own 0600 files)"
$MESHKIT --home "$work/alice" identity create alice >/dev/null
$MESHKIT --home "$work/bob" identity create bob >/dev/null
$MESHKIT --home "$work/bob" identity show bob | tee "$work/bob.json"
$MESHKIT --home "$work/alice" identity show alice >"$work/alice.json"

say "they exchange public records (compare the fingerprints out of band)"
$MESHKIT --home "$work/alice" contact add "$work/bob.json"
$MESHKIT --home "$work/bob" contact add "$work/alice.json"

say "alice seals a 5 MiB file to bob: the CAR holds only encrypted blocks"
head -c 5242880 /dev/urandom >"$work/report.bin"
root=$($MESHKIT --home "$work/alice" seal "$work/report.bin" --from alice --to bob --car "$work/report.car" | tail -n 1)
echo "root CID: $root"
ls -l "$work/report.car"

say "bob opens it: every block's CID is checked before it is decrypted"
$MESHKIT --home "$work/bob" open "$work/report.car" --as bob --out "$work/report.out"
cmp "$work/report.bin" "$work/report.out" && echo "bytes equal"

say "carol is not a recipient: the open fails closed"
$MESHKIT --home "$work/carol" identity create carol >/dev/null
$MESHKIT --home "$work/carol" open "$work/report.car" --as carol --out "$work/carol.out" || true
test ! -e "$work/carol.out" && echo "no output file was written"

say "one flipped bit in the stored bytes: the open fails closed"
python3 - "$work/report.car" <<'PY'
import sys
path = sys.argv[1]
data = bytearray(open(path, "rb").read())
data[len(data) // 2] ^= 1
open(path, "wb").write(bytes(data))
PY
$MESHKIT --home "$work/bob" open "$work/report.car" --as bob --out "$work/tampered.out" || true
test ! -e "$work/tampered.out" && echo "no output file was written"

say "now through a gateway (embedded blockstore + SQLite): seal, share, revoke"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
gw="http://127.0.0.1:$port"
$MESHKIT serve --data "$work/gateway" --port "$port" >"$work/gateway.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf "$gw/healthz" >/dev/null && break; sleep 0.1; done
$MESHKIT --home "$work/alice" identity publish alice --gateway "$gw"
$MESHKIT --home "$work/carol" identity publish carol --gateway "$gw"
carol_id=$($MESHKIT --home "$work/carol" identity show carol | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
root=$($MESHKIT --home "$work/alice" seal "$work/report.bin" --from alice --to bob --gateway "$gw" | tail -n 1)
echo "uploaded and pinned: $root"
$MESHKIT --home "$work/bob" open "$root" --as bob --out "$work/gw.out" --gateway "$gw"
cmp "$work/report.bin" "$work/gw.out" && echo "bytes equal"
$MESHKIT --home "$work/alice" share "$root" --from alice --to "$carol_id" --expires 1h --gateway "$gw"
$MESHKIT --home "$work/carol" inbox --as carol --gateway "$gw"
$MESHKIT --home "$work/carol" open "$root" --as carol --out "$work/carol.out" --gateway "$gw"
$MESHKIT --home "$work/alice" revoke "$root" --from alice --to "$carol_id" --gateway "$gw"
rm -f "$work/carol.out"
$MESHKIT --home "$work/carol" open "$root" --as carol --out "$work/carol.out" --gateway "$gw" || true
test ! -e "$work/carol.out" && echo "revoked: carol's next open failed closed, no output file"
curl -s -X POST "$gw/api/v0/config/show"; echo "   <- raw Kubo RPC is refused"
