#!/usr/bin/env node
// js-ipfs 0.66.1 as a real, offline, Kubo-RPC-compatible HTTP server for the tests.
//
//   node tests/ipfs/daemon.mjs --repo DIR --api-port N [--gateway-port M] [--max-body-bytes B]
//
// Prints exactly one line, `READY http://127.0.0.1:N`, on stdout once the RPC API
// answers; everything else goes to stderr. Exits non-zero on failure, 0 after SIGTERM.
import { parseArgs } from 'node:util'

// Node 20 lacks Promise.withResolvers, which parts of the js-ipfs tree call.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function () {
    let resolve, reject
    const promise = new this((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}

const HOST = '127.0.0.1'

function fail (message) {
  process.stderr.write(`daemon.mjs: ${message}\n`)
  process.exit(1)
}

function port (name, value) {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1 || n > 65535) fail(`--${name} must be a TCP port, got ${JSON.stringify(value)}`)
  return n
}

let args
try {
  args = parseArgs({
    options: {
      repo: { type: 'string' },
      'api-port': { type: 'string' },
      'gateway-port': { type: 'string' },
      'max-body-bytes': { type: 'string', default: String(4 * 1024 * 1024) }
    }
  }).values
} catch (err) {
  fail(err.message)
}
if (!args.repo) fail('--repo DIR is required')
if (!args['api-port']) fail('--api-port N is required')
const apiPort = port('api-port', args['api-port'])
const gatewayPort = args['gateway-port'] ? port('gateway-port', args['gateway-port']) : null
const maxBytes = Number(args['max-body-bytes'])
if (!Number.isInteger(maxBytes) || maxBytes < 1) fail('--max-body-bytes must be a positive integer')

// ipfs-http-server builds its Hapi server with a hard-coded option set and no way to
// change the request payload limit (Hapi's default routes.payload.maxBytes is 1 MiB, so
// block/put of a bigger block is a 413). Give every Hapi server created in this process
// a server-wide default instead; routes that set their own maxBytes (add, dag/import,
// files/write) keep it.
const { default: Hapi } = await import('@hapi/hapi')
const createHapiServer = Hapi.server
Hapi.server = (options = {}) => createHapiServer({
  ...options,
  routes: { ...options.routes, payload: { ...options.routes?.payload, maxBytes } }
})

const { create } = await import('ipfs-core')
const { HttpApi } = await import('ipfs-http-server')
const { HttpGateway } = await import('ipfs-http-gateway')

// Applied when the repo is created and merged again on every start (arrays replace).
const config = {
  Addresses: {
    Swarm: [],
    Announce: [],
    NoAnnounce: [],
    API: `/ip4/${HOST}/tcp/${apiPort}`,
    Gateway: gatewayPort ? `/ip4/${HOST}/tcp/${gatewayPort}` : [],
    Delegates: []
  },
  Bootstrap: [],
  Discovery: { MDNS: { Enabled: false }, webRTCStar: { Enabled: false } },
  Routing: { Type: 'none' },
  Pubsub: { Enabled: false },
  Swarm: { DisableNatPortMap: true }
}

let ipfs, api, gateway, stopping = false

async function stop (signal) {
  if (stopping) return
  stopping = true
  // Hapi waits up to 5 s for in-flight requests (e.g. a block/get that never resolves).
  setTimeout(() => fail(`did not stop within 15 s of ${signal}`), 15000).unref()
  try {
    await Promise.all([api?.stop(), gateway?.stop()])
    await ipfs?.stop()
  } catch (err) {
    fail(`error while stopping: ${err.stack || err}`)
  }
  process.exit(0)
}
process.on('SIGTERM', () => stop('SIGTERM'))
process.on('SIGINT', () => stop('SIGINT'))

try {
  ipfs = await create({
    repo: args.repo, // initialised here if absent
    init: { algorithm: 'Ed25519', emptyRepo: true },
    offline: true,
    start: true,
    silent: true, // keep stdout for the READY line
    preload: { enabled: false },
    config,
    libp2p: { nat: { enabled: false }, relay: { enabled: false }, connectionManager: { autoDial: false } }
  })
  api = new HttpApi(ipfs)
  await api.start()
  if (gatewayPort) {
    gateway = new HttpGateway(ipfs)
    await gateway.start()
  }
  const url = `http://${HOST}:${apiPort}`
  const res = await fetch(`${url}/api/v0/version`, { method: 'POST' })
  if (res.status !== 200) throw new Error(`POST /api/v0/version answered ${res.status}: ${await res.text()}`)
  await res.arrayBuffer()
  if (!stopping) process.stdout.write(`READY ${url}\n`)
} catch (err) {
  fail(`failed to start js-ipfs on ${HOST}:${apiPort} with repo ${args.repo}: ${err.stack || err}`)
}
