// Independent oracle: read a MeshKit CAR with the reference JavaScript IPLD stack
// (@ipld/car, @ipld/dag-cbor, multiformats; pinned in package-lock.json), none of
// which shares code with the Python implementation.
//
//   node tests/js/read_car.mjs FILE.car
//
// For every block: recompute sha2-256 over the block bytes and build a CIDv1 with the
// block's own codec; it must equal the CID the CAR frames the block with. The root is
// decoded with @ipld/dag-cbor (strict DAG-CBOR) and re-encoded, which must give the
// same bytes (i.e. our encoding is the canonical one).
//
// stdout: one JSON document
//   {car_version, roots:[cid], blocks:[{cid, codec, length, computed}], mismatches:[cid],
//    header:{meshkit, v, suite, segments:[cid], size, segment_size, recipient_ids:[id],
//            sender_id, created, nonce_prefix_hex, commitment_hex, keys:[...]},
//    header_reencodes_identically: bool}
// exit 0: everything checks; 1: a block does not match its CID, or the root is not
//   canonical DAG-CBOR / not in the CAR; 2: usage error or the CAR cannot be parsed.

import { createReadStream } from 'node:fs'
import { CarBlockIterator } from '@ipld/car/iterator'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'

const toHex = (bytes) => Buffer.from(bytes).toString('hex')

/** JSON-safe view of decoded DAG-CBOR (CIDs as strings, bytes as hex, big ints as strings). */
function plain (value) {
  const cid = CID.asCID(value)
  if (cid) return cid.toString()
  if (value instanceof Uint8Array) return { hex: toHex(value) }
  if (typeof value === 'bigint') return value.toString()
  if (Array.isArray(value)) return value.map(plain)
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]))
  }
  return value
}

function summarise (header) {
  const out = {
    keys: Object.keys(header).sort(),
    meshkit: header.meshkit,
    v: header.v,
    suite: header.suite,
    size: header.size,
    segment_size: header.segment_size,
    created: header.created,
    segments: (header.segments ?? []).map((link) => {
      const cid = CID.asCID(link)
      if (!cid) throw new Error('header.segments holds a non-link')
      return cid.toString()
    }),
    segment_codecs: (header.segments ?? []).map((link) => CID.asCID(link).code),
    recipient_ids: (header.recipients ?? []).map((r) => r.id),
    sender_id: header.sender?.id,
    nonce_prefix_hex: header.nonce_prefix instanceof Uint8Array ? toHex(header.nonce_prefix) : null,
    commitment_hex: header.commitment instanceof Uint8Array ? toHex(header.commitment) : null,
    raw: plain(header)
  }
  return out
}

async function main (path) {
  let iterator
  try {
    iterator = await CarBlockIterator.fromIterable(createReadStream(path))
  } catch (err) {
    process.stderr.write(`read_car: cannot parse CAR header of ${path}: ${err.message}\n`)
    return 2
  }
  const roots = await iterator.getRoots()
  const blocks = []
  const mismatches = []
  const rootBytes = new Map()
  try {
    for await (const { cid, bytes } of iterator) {
      let computed = null
      if (cid.multihash.code === sha256.code) {
        const digest = await sha256.digest(bytes)
        computed = CID.create(cid.version, cid.code, digest)
      }
      const ok = computed !== null && computed.equals(cid)
      if (!ok) mismatches.push(cid.toString())
      blocks.push({
        cid: cid.toString(),
        codec: cid.code,
        version: cid.version,
        multihash: cid.multihash.code,
        length: bytes.length,
        computed: computed === null ? null : computed.toString()
      })
      if (roots.some((root) => root.equals(cid))) rootBytes.set(cid.toString(), bytes)
    }
  } catch (err) {
    process.stderr.write(`read_car: cannot parse CAR blocks of ${path}: ${err.message}\n`)
    return 2
  }

  const result = {
    car_version: iterator.version,
    roots: roots.map((root) => root.toString()),
    blocks,
    mismatches,
    header: null,
    header_reencodes_identically: null
  }
  const problems = mismatches.map((cid) => `block ${cid} does not match its CID (hash mismatch)`)
  if (roots.length !== 1) {
    problems.push(`expected exactly one root, got ${roots.length}`)
  } else {
    const root = roots[0]
    const bytes = rootBytes.get(root.toString())
    if (bytes === undefined) {
      problems.push(`root ${root} is not in the CAR`)
    } else if (root.code !== dagCbor.code) {
      problems.push(`root ${root} has codec 0x${root.code.toString(16)}, not dag-cbor`)
    } else {
      try {
        const header = dagCbor.decode(bytes)
        result.header = summarise(header)
        result.header_reencodes_identically = Buffer.from(dagCbor.encode(header)).equals(Buffer.from(bytes))
        if (!result.header_reencodes_identically) problems.push(`root ${root} is not canonical DAG-CBOR`)
      } catch (err) {
        problems.push(`root ${root} does not decode as DAG-CBOR: ${err.message}`)
      }
    }
  }
  process.stdout.write(JSON.stringify(result) + '\n')
  for (const problem of problems) process.stderr.write(`read_car: ${problem}\n`)
  return problems.length ? 1 : 0
}

if (process.argv.length !== 3) {
  process.stderr.write('usage: node read_car.mjs FILE.car\n')
  process.exitCode = 2
} else {
  process.exitCode = await main(process.argv[2])
}
