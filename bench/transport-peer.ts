/**
 * One end of a bench/transport.ts transfer, in its own process:
 * `node bench/transport-peer.ts serve VARIANT BYTES` prints its address, sends BYTES to the
 * first stream (or socket) that opens, then prints `{cpuUs}` of the transfer and exits;
 * `node bench/transport-peer.ts fetch VARIANT ADDRESS` reads to the end and prints `{bytes, seconds, cpuUs}`.
 * VARIANT is one of transport-candidates.ts's, or `tcp` (node:net, the reference). The TLS
 * variants send only a ticket on the libp2p stream and the bytes on the TLS connection it
 * opens; their CPU counts from the stream's opening, ticket and TLS handshake included.
 */
import type { Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { randomBytes } from 'node:crypto'
import { connect, createServer, type Socket } from 'node:net'
import { TICKET_BYTES, TLS_SUITES, tlsBulkConnect, tlsBulkServer, transportOptions, type Variant } from './transport-candidates.ts'

const PROTOCOL = '/peerstage/bench/1'
const CHUNK = 128 * 1024 + 13 // a BitTorrent piece message
const SWARM_KEY = new TextEncoder().encode(`/key/swarm/psk/1.0.0/\n/base16/\n${'5a'.repeat(32)}`)
const HOST = '127.0.20.1'
const [role, variant, arg] = process.argv.slice(2) as ['serve' | 'fetch', Variant | 'tcp', string]
const suite = variant === 'tcp' ? undefined : TLS_SUITES[variant]

const cpuUs = (start: NodeJS.CpuUsage) => { const u = process.cpuUsage(start); return u.user + u.system }

/** The fetch side's clock: started when the transfer starts, printed as its one line at the end. */
function fetchClock(): { done: (bytes: number) => void } {
  const cpu = process.cpuUsage()
  const t = performance.now()
  return { done: (bytes) => console.log(JSON.stringify({ bytes, seconds: (performance.now() - t) / 1000, cpuUs: cpuUs(cpu) })) }
}

async function sendAll(bytes: number, send: (b: Uint8Array) => boolean, drained: () => Promise<void>): Promise<void> {
  const block = randomBytes(CHUNK)
  for (let sent = 0; sent < bytes; sent += CHUNK) {
    if (!send(block.subarray(0, Math.min(CHUNK, bytes - sent)))) await drained()
  }
}

if (variant === 'tcp') {
  if (role === 'serve') {
    const server = createServer((s: Socket) => {
      const cpu = process.cpuUsage()
      s.on('close', () => { console.log(JSON.stringify({ cpuUs: cpuUs(cpu) })); server.close() })
      void sendAll(Number(arg), (b) => s.write(b), () => new Promise((r) => s.once('drain', r))).then(() => s.end())
      s.resume()
    }).listen(0, HOST, () => console.log(JSON.stringify({ address: `${HOST}:${(server.address() as { port: number }).port}` })))
  } else {
    const [host, port] = arg.split(':') as [string, string]
    const s = connect(Number(port), host)
    let bytes = 0
    let clock: ReturnType<typeof fetchClock>
    s.once('connect', () => { clock = fetchClock() })
    s.on('data', (d: Buffer) => { bytes += d.byteLength })
    s.on('end', () => { clock.done(bytes); s.end() })
  }
} else if (suite !== undefined) {
  const node = await createLibp2p({ addresses: { listen: role === 'serve' ? [`/ip4/${HOST}/tcp/0`] : [] }, ...transportOptions(variant, SWARM_KEY) })
  if (role === 'serve') {
    let cpu: NodeJS.CpuUsage
    const bulk = await tlsBulkServer(HOST, suite, (s) => {
      s.on('close', () => { console.log(JSON.stringify({ cpuUs: cpuUs(cpu) })); bulk.close(); void node.stop() })
      void sendAll(Number(arg), (b) => s.write(b), () => new Promise((r) => s.once('drain', r))).then(() => s.end())
      s.resume()
    })
    await node.handle(PROTOCOL, async (stream: Stream) => {
      cpu = process.cpuUsage()
      stream.send(bulk.issue())
      await stream.close()
    })
    console.log(JSON.stringify({ address: node.getMultiaddrs()[0]!.toString() }))
  } else {
    const stream = await node.dialProtocol(multiaddr(arg), PROTOCOL)
    const clock = fetchClock()
    const parts: Uint8Array[] = []
    let got = 0
    const ticket = await new Promise<Uint8Array>((resolve) => stream.addEventListener('message', (e) => {
      parts.push(e.data.subarray())
      if ((got += e.data.byteLength) >= TICKET_BYTES) resolve(Buffer.concat(parts))
    }))
    await stream.close()
    const s = tlsBulkConnect(arg.split('/')[2]!, suite, ticket) // the dialled /ip4/HOST/tcp/…
    let bytes = 0
    s.on('data', (d: Buffer) => { bytes += d.byteLength })
    s.on('end', () => {
      clock.done(bytes)
      s.end()
      void node.stop()
    })
  }
} else {
  const node = await createLibp2p({ addresses: { listen: role === 'serve' ? [`/ip4/${HOST}/tcp/0`] : [] }, ...transportOptions(variant, SWARM_KEY) })
  if (role === 'serve') {
    await node.handle(PROTOCOL, async (stream: Stream) => {
      const cpu = process.cpuUsage()
      stream.addEventListener('close', () => { console.log(JSON.stringify({ cpuUs: cpuUs(cpu) })); void node.stop() })
      await sendAll(Number(arg), (b) => stream.send(b), () => stream.onDrain())
      await stream.close()
    })
    console.log(JSON.stringify({ address: node.getMultiaddrs()[0]!.toString() }))
  } else {
    const stream = await node.dialProtocol(multiaddr(arg), PROTOCOL)
    const clock = fetchClock()
    let bytes = 0
    stream.addEventListener('message', (e) => { bytes += e.data.byteLength })
    stream.addEventListener('remoteCloseWrite', () => {
      clock.done(bytes)
      void stream.close().then(() => node.stop())
    })
  }
}
