// Independent verifying client: the IPFS project's own @helia/verified-fetch 8.0.4 on an
// offline Helia 7 light node, reading from a MeshKit trustless gateway. None of this code
// is MeshKit's (versions pinned in package-lock.json).
//
//   node tests/helia/fetch.mjs GATEWAY_URL CID [--format raw|car|dag-cbor] [--timeout-ms N]
//   node tests/helia/fetch.mjs GATEWAY_URL CID --walk [--timeout-ms N]
//
// The node has no libp2p, no DHT, no bootstrap, no delegated routing: its only block
// source is Helia's trustless-gateway block broker (@helia/trustless-gateway-client: Helia
// 7's successor of @helia/block-brokers), and its only router @helia/fallback-router's
// answer, GATEWAY_URL as the provider of every CID (see gatewayRouter for why it is
// wrapped). The broker asks for each block with
// `GET /ipfs/{cid}?format=raw` + `Accept: application/vnd.ipld.raw`, and Helia checks the
// block's multihash before anything uses it.
//
// fetch (default): verified-fetch(`ipfs://CID`, {session: false}) with the Accept header of
//   --format (default raw). stdout, one line:
//   {"status", "contentType", "bytes", "sha256", "error"}, plus "carBlocks" for a 200 CAR
//   exit 0 iff status is 200 and the body was read whole; for a CAR also iff it holds the
//   whole DAG (root as its only root, every block matching its CID, every link present).
// --walk: Helia's depth-first graph walker over Helia's blockstore (so through the broker,
//   each block hash-checked by Helia), from a DAG-CBOR root through DAG-CBOR links down to
//   raw leaves, each CID once. stdout, one line: {"blocks", "bytes", "cids", "error"}
//   exit 0 iff every reachable block arrived and verified.
//
// Failures print one JSON line with "error": "<Name>: <message>" and exit non-zero:
//   1 fetch/walk failed (missing block, hash mismatch, non-200, truncated body),
//   2 usage (including a CID that does not parse), 3 timeout (--timeout-ms, default 30000,
//   start-up included).
// The process never waits past the timeout and never dies on an unhandled rejection
// without its JSON line.

import { createHash } from 'node:crypto'

if (typeof Promise.withResolvers !== 'function') { // Node 20 lacks it; Helia 7 uses it
  Promise.withResolvers = function withResolvers () {
    let resolve, reject
    const promise = new this((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}

const ACCEPT = {
  raw: 'application/vnd.ipld.raw',
  car: 'application/vnd.ipld.car',
  'dag-cbor': 'application/vnd.ipld.dag-cbor'
}
const USAGE = 'usage: node fetch.mjs GATEWAY_URL CID [--format raw|car|dag-cbor] [--walk] [--timeout-ms N]'

let finished = false
let template = { status: null, contentType: null, bytes: null, sha256: null }
const progress = {} // what is known so far, so that a timeout line says how far it got

/** Print the one JSON line (only the first call prints) and exit. */
function finish (fields, code) {
  if (finished) return
  finished = true
  process.stdout.write(JSON.stringify({ ...template, ...progress, ...fields }) + '\n', () => process.exit(code))
  setTimeout(() => process.exit(code), 1000).unref()
}

const describe = (err) => {
  if (err == null) return 'Error: unknown'
  const name = err.name ?? 'Error'
  let message = err.message ?? String(err)
  if (Array.isArray(err.errors) && err.errors.length > 0) { // AggregateError / LoadBlockFailedError
    message += ' [' + err.errors.map(describe).join('; ') + ']'
  }
  return `${name}: ${message}`
}

process.on('unhandledRejection', (err) => finish({ error: describe(err) }, 1))
process.on('uncaughtException', (err) => finish({ error: describe(err) }, 1))

function parseArgs (argv) {
  const opts = { format: 'raw', walk: false, timeoutMs: 30000, positional: [] }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--format') {
      opts.format = argv[++i]
      if (!(opts.format in ACCEPT)) throw new Error(`--format must be raw, car or dag-cbor, not ${opts.format}`)
    } else if (arg === '--timeout-ms') {
      opts.timeoutMs = Number(argv[++i])
      if (!Number.isInteger(opts.timeoutMs) || opts.timeoutMs <= 0) throw new Error('--timeout-ms takes a positive integer')
    } else if (arg === '--walk') {
      opts.walk = true
    } else if (arg.startsWith('--')) {
      throw new Error(`unknown option ${arg}`)
    } else {
      opts.positional.push(arg)
    }
  }
  if (opts.positional.length !== 2) throw new Error(USAGE)
  return opts
}

let opts
try {
  opts = parseArgs(process.argv.slice(2))
  opts.gateway = new URL(opts.positional[0]).toString()
} catch (err) {
  finish({ error: `UsageError: ${err.message}` }, 2)
}

async function main (opts, signal) {
  const [{ createHeliaLight }, { trustlessGatewayBlockBroker }, { fallbackRouter },
    { createVerifiedFetchWithHelia }, { depthFirstWalker }, dagCbor, { CID }] = await Promise.all([
    import('helia'),
    import('@helia/trustless-gateway-client'),
    import('@helia/fallback-router'),
    import('@helia/verified-fetch'),
    import('@helia/utils'),
    import('@ipld/dag-cbor'),
    import('multiformats/cid')
  ])  // imported after the polyfill above (static imports would run before it)

  let cid
  try {
    cid = CID.parse(opts.positional[1])
  } catch (err) {
    finish({ error: `InvalidCIDError: ${err.message}` }, 2)
    return
  }
  const rejected = new Set() // CIDs whose block Helia refused (hash mismatch)
  const helia = createHeliaLight({
    logger: recordingLogger(rejected),
    codecs: [dagCbor],
    blockBrokers: [trustlessGatewayBlockBroker({ allowInsecure: true, allowLocal: true })],
    routers: [gatewayRouter(fallbackRouter({ gateways: [opts.gateway], shuffle: false }))]
  })
  await helia.start()
  try {
    if (opts.walk) {
      await walk(helia, cid, signal, rejected, depthFirstWalker)
    } else {
      await fetchOne(helia, cid, signal, rejected, createVerifiedFetchWithHelia)
    }
  } finally {
    if (!finished) await helia.stop().catch(() => {})
  }
}

async function fetchOne (helia, cid, signal, rejected, createVerifiedFetchWithHelia) {
  const verifiedFetch = await createVerifiedFetchWithHelia(helia)
  // verified-fetch reads only the Accept header (it ignores ?format=)
  const res = await verifiedFetch(`ipfs://${cid}`, {
    headers: { accept: ACCEPT[opts.format] },
    session: false,
    signal
  })
  const out = { status: res.status, contentType: res.headers.get('content-type') }
  Object.assign(progress, out)
  let body
  try {
    body = new Uint8Array(await res.arrayBuffer())
  } catch (err) {
    // e.g. a CAR whose child block could not be fetched: the stream breaks after the 200
    finish({ ...out, error: errorText(rejected, describe(err)) }, 1)
    return
  }
  out.bytes = body.length
  out.sha256 = createHash('sha256').update(body).digest('hex')
  if (res.status === 200 && opts.format === 'car') {
    // a 200 CAR is not proof of a whole DAG: check it with @ipld/car before saying so
    try {
      out.carBlocks = await checkCar(helia, cid, body)
    } catch (err) {
      finish({ ...out, error: describe(err) }, 1)
      return
    }
  }
  if (res.status !== 200) {
    const text = new TextDecoder().decode(body.subarray(0, 300)).replace(/\s+/g, ' ').trim()
    finish({ ...out, error: errorText(rejected, `HTTPError: verified-fetch answered ${res.status} ${res.statusText}${text ? ': ' + text : ''}`) }, 1)
    return
  }
  finish({ ...out, error: null }, 0)
}

/**
 * The CAR verified-fetch produced must be a whole DAG: roots = [cid], every block hashes to
 * the CID it is framed with, and every link of every block is in the CAR. Returns the
 * number of blocks.
 */
async function checkCar (helia, root, body) {
  const [{ CarBlockIterator }, { createUnsafe }] = await Promise.all([
    import('@ipld/car/iterator'), import('multiformats/block')])
  const iterator = await CarBlockIterator.fromBytes(body)
  const roots = await iterator.getRoots()
  if (roots.length !== 1 || !roots[0].equals(root)) {
    throw new IncompleteCarError(`CAR roots are [${roots.join(', ')}], not [${root}]`)
  }
  const present = new Set()
  const linked = new Set([root.toString()])
  for await (const { cid, bytes } of iterator) {
    const hasher = await helia.getHasher(cid.multihash.code)
    const digest = await hasher.digest(bytes)
    if (Buffer.compare(Buffer.from(digest.digest), Buffer.from(cid.multihash.digest)) !== 0) {
      throw new IncompleteCarError(`CAR block framed as ${cid} does not hash to it`)
    }
    present.add(cid.toString())
    const block = createUnsafe({ cid, bytes, codec: await helia.getCodec(cid.code) })
    for (const [, link] of block.links()) linked.add(link.toString())
  }
  const missing = [...linked].filter((c) => !present.has(c))
  if (missing.length > 0) throw new IncompleteCarError(`CAR lacks ${missing.length} linked block(s): ${missing.join(', ')}`)
  return present.size
}

class IncompleteCarError extends Error {
  name = 'IncompleteCarError'
}

async function walk (helia, root, signal, rejected, depthFirstWalker) {
  if (root.code !== 0x71) throw new TypeError(`--walk starts at a DAG-CBOR root, ${root} has codec 0x${root.code.toString(16)}`)
  const walker = depthFirstWalker()({ blockstore: helia.blockstore, getCodec: helia.getCodec })
  const seen = new Set([root.toString()])
  const cids = []
  let bytes = 0
  try {
    for await (const node of walker.walk(root, {
      signal,
      includeChild: (child) => {
        const key = child.toString()
        if (seen.has(key)) return false
        seen.add(key)
        return true
      }
    })) {
      if (node.block.cid.code !== 0x71 && node.block.cid.code !== 0x55) {
        throw new TypeError(`block ${node.block.cid} is neither DAG-CBOR nor raw (codec 0x${node.block.cid.code.toString(16)})`)
      }
      cids.push(node.block.cid.toString())
      bytes += node.block.bytes.byteLength
      Object.assign(progress, { blocks: cids.length, bytes, cids })
    }
  } catch (err) {
    finish({ blocks: cids.length, bytes, cids, error: errorText(rejected, describe(err)) }, signal.aborted ? 3 : 1)
    return
  }
  finish({ blocks: cids.length, bytes, cids, error: null }, 0)
}

/**
 * The fallback router's provider records (GATEWAY_URL as a `transport-ipfs-gateway-http`
 * provider of every CID), offered as an ordinary router. Helia 7.1.15's routing asks its
 * non-fallback routers first; with none, that phase never ends (it waits for an idle
 * event that no router triggers) and every block fetch hangs without a request. Without
 * the `fallback` capability this router is asked in the first phase, which then ends.
 */
function gatewayRouter (fallback) {
  return {
    name: 'meshkit-gateway',
    findProviders: (cid, options) => fallback.findProviders(cid, options),
    toString: () => `MeshKitGatewayRouter(${fallback})`
  }
}

/** The error text; a block Helia refused for its hash is named first, whatever followed. */
function errorText (rejected, text) {
  if (rejected.size === 0) return text
  return `InvalidMultihashError: Helia rejected the block of ${[...rejected].join(', ')}: its hash did not match its CID (then: ${text})`
}

/**
 * A silent ComponentLogger that notes which CIDs the trustless-gateway broker refused
 * because Helia's hash check failed: the broker then reports only "Unable to fetch raw
 * block ... from any gateway", which would hide the reason. Set HELIA_FETCH_DEBUG=1 to
 * see every log line on stderr.
 */
function recordingLogger (rejected) {
  const debug = process.env.HELIA_FETCH_DEBUG === '1'
  const make = (name) => {
    const emit = (level) => (fmt, ...args) => {
      if (level === 'error' && typeof fmt === 'string' && fmt.startsWith('failed to validate block')) {
        rejected.add(String(args[0]))
      }
      if (debug) process.stderr.write(`${name} ${level} ${fmt} ${args.map(String).join(' ')}\n`)
    }
    const log = emit('log')
    log.error = emit('error')
    log.trace = emit('trace')
    log.enabled = debug
    log.newScope = (scope) => make(`${name}:${scope}`)
    return log
  }
  return { forComponent: make }
}

// last, so that every declaration above is initialised before the top-level await runs
if (opts != null) {
  if (opts.walk) template = { blocks: null, bytes: null, cids: null }
  const controller = new AbortController()
  setTimeout(() => {
    controller.abort()
    finish({ error: `TimeoutError: no answer within ${opts.timeoutMs} ms` }, 3)
  }, opts.timeoutMs).unref()
  // unref'd: an idle event loop with nothing pending would also mean "stuck", so keep one
  // ref'd handle until we finish
  const keepAlive = setInterval(() => {}, 1 << 30)
  try {
    await main(opts, controller.signal)
    finish({ error: 'InternalError: fetch.mjs ended without a result' }, 1) // never expected
  } catch (err) {
    finish({ error: describe(err) }, controller.signal.aborted ? 3 : 1)
  } finally {
    clearInterval(keepAlive)
  }
}
