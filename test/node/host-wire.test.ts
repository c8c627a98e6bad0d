import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Stream } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { createHmac } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createHost, dialPeer, loadOrCreateIdentity, type Host } from '../../node/host.ts'
import { generateSwarmKeyFile, loadSwarmKey, swarmPrologue } from '../../node/swarm-key.ts'
import { attachWire, createWire, maxMessageBytes, WIRE_PROTOCOL, type Wire } from '../../node/wire/index.ts'
import { capturingRelay } from '../helpers/relay.ts'
import { pseudoRandomBytes, tempDir } from '../helpers/tmp.ts'

const hosts: Host[] = []
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.stop()))
})

async function host(key: Uint8Array, ip: string): Promise<Host> {
  const h = await createHost({ swarmKey: key, listen: [`/ip4/${ip}/tcp/0`], dialFrom: ip })
  hosts.push(h)
  return h
}

function swarmKey(dir: string, name: string): Uint8Array {
  const path = join(dir, name)
  generateSwarmKeyFile(path)
  return loadSwarmKey(path)
}

describe('swarm key', () => {
  it('is written 0600 in the pnet format, never overwritten, and checked on load', () => {
    const dir = tempDir()
    const path = join(dir, 'swarm.key')
    generateSwarmKeyFile(path)
    expect(() => generateSwarmKeyFile(path)).toThrow(expect.objectContaining({ code: 'PEERSTAGE_NODE_SWARM_KEY_EXISTS' }))
    expect(new TextDecoder().decode(loadSwarmKey(path))).toMatch(/^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}$/)
    writeFileSync(join(dir, 'bad.key'), 'hello\n')
    expect(() => loadSwarmKey(join(dir, 'bad.key'))).toThrow(expect.objectContaining({ code: 'PEERSTAGE_NODE_SWARM_KEY_INVALID', message: expect.stringMatching(/is not a swarm key/) }))
    expect(() => loadSwarmKey(join(dir, 'none.key'))).toThrow(expect.objectContaining({ code: 'PEERSTAGE_NODE_SWARM_KEY_INVALID' }))
  })

  it('gives one noise prologue per key: HMAC-SHA256(key bytes, peerstage-swarm/1)', () => {
    const dir = tempDir()
    const key = swarmKey(dir, 'one.key')
    const hex = new TextDecoder().decode(key).split('\n')[2]!
    const prologue = swarmPrologue(key)
    expect(Buffer.from(prologue).equals(createHmac('sha256', Buffer.from(hex, 'hex')).update('peerstage-swarm/1').digest())).toBe(true)
    expect(Buffer.from(swarmPrologue(loadSwarmKey(join(dir, 'one.key')))).equals(Buffer.from(prologue))).toBe(true)
    expect(Buffer.from(swarmPrologue(swarmKey(dir, 'two.key'))).equals(Buffer.from(prologue))).toBe(false)
  })
})

describe('libp2p host on loopback', () => {
  it('connects two nodes of one swarm, leaving from the configured address', async () => {
    const key = swarmKey(tempDir(), 'swarm.key')
    const a = await host(key, '127.0.1.1')
    const b = await host(key, '127.0.2.7')
    const seen = new Promise<string>((resolve) => a.addEventListener('connection:open', (e) => resolve(e.detail.remoteAddr.toString())))
    await dialPeer(b, a.getMultiaddrs()[0]!.toString())
    expect(await seen).toMatch(/^\/ip4\/127\.0\.2\.7\/tcp\//)
    expect(await b.services.ping.ping(a.peerId)).toBeGreaterThanOrEqual(0)
  })

  it('keeps its peer id across restarts', async () => {
    const dir = tempDir()
    const k1 = await loadOrCreateIdentity(join(dir, 'peer.key'))
    const k2 = await loadOrCreateIdentity(join(dir, 'peer.key'))
    expect(k2.equals(k1)).toBe(true)
  })

  it('fails clearly against a node with another swarm key, whichever side dials', async () => {
    const dir = tempDir()
    const a = await host(swarmKey(dir, 'one.key'), '127.0.1.1')
    const c = await host(swarmKey(dir, 'two.key'), '127.0.3.1')
    for (const [from, to] of [[c, a], [a, c]] as const) {
      const err = await dialPeer(from, to.getMultiaddrs()[0]!.toString()).catch((e: unknown) => e)
      expect(err).toMatchObject({ code: 'PEERSTAGE_NODE_SWARM_KEY_MISMATCH', message: expect.stringMatching(/different swarm keys/) })
      expect((err as Error).message).not.toContain('\n')
    }
    expect(a.getConnections()).toHaveLength(0)
    expect(c.getConnections()).toHaveLength(0)
  })

  it('fails clearly against a libp2p node with no swarm key at all (TCP + noise + yamux), whichever side dials', async () => {
    const a = await host(swarmKey(tempDir(), 'one.key'), '127.0.1.1')
    const plain = await createLibp2p({ addresses: { listen: ['/ip4/127.0.3.2/tcp/0'] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
    hosts.push(plain as unknown as Host)
    for (const [from, to] of [[plain as unknown as Host, a], [a, plain as unknown as Host]] as const) {
      const err = await dialPeer(from, to.getMultiaddrs()[0]!.toString()).catch((e: unknown) => e)
      expect(err).toMatchObject({ code: 'PEERSTAGE_NODE_SWARM_KEY_MISMATCH', message: expect.stringMatching(/different swarm keys/) })
      expect((err as Error).message).not.toContain('\n')
    }
    expect(a.getConnections()).toHaveLength(0)
  })
})

describe('wire over a libp2p stream', () => {
  async function connectedPair(): Promise<{ a: Host, b: Host, inbound: Promise<Stream> }> {
    const key = swarmKey(tempDir(), 'swarm.key')
    const a = await host(key, '127.0.1.1')
    const b = await host(key, '127.0.1.2')
    const inbound = new Promise<Stream>((resolve) => { void a.handle(WIRE_PROTOCOL, (stream) => resolve(stream)) })
    return { a, b, inbound }
  }

  it('moves blocks both ways, byte-identical', async () => {
    const { a, b, inbound } = await connectedPair()
    const outStream = await b.dialProtocol(a.getMultiaddrs()[0]!, WIRE_PROTOCOL)
    const data = new Uint8Array(8 * 128 * 1024).map((_, i) => (i * 7) & 0xff)
    const blocks = await requestAll(await inbound, outStream, data)
    expect(Buffer.from(Buffer.concat(blocks)).equals(Buffer.from(data))).toBe(true)
  })

  it('puts no byte of a piece on the wire in the clear (captured through a TCP relay)', async () => {
    const { a, b, inbound } = await connectedPair()
    const relay = await capturingRelay('127.0.1.9', { host: '127.0.1.1', port: Number(a.getMultiaddrs()[0]!.toString().split('/')[4]) })
    try {
      const outStream = await b.dialProtocol(multiaddr(`/ip4/127.0.1.9/tcp/${relay.port}/p2p/${a.peerId.toString()}`), WIRE_PROTOCOL)
      const data = pseudoRandomBytes(4 * 131072, 7)
      const blocks = await requestAll(await inbound, outStream, data)
      expect(Buffer.concat(blocks).equals(Buffer.from(data))).toBe(true)
      const wire = relay.captured()
      expect(wire.byteLength).toBeGreaterThan(data.byteLength) // the pieces did cross the relay
      const run = Buffer.from(data.subarray(2 * 131072 + 1000, 2 * 131072 + 1064)) // 64 bytes from the middle
      expect(wire.indexOf(run)).toBe(-1)
      expect(Buffer.concat([wire, run]).indexOf(run)).toBe(wire.byteLength) // the search itself works
      expect(wire.indexOf(WIRE_PROTOCOL)).toBe(-1) // protocols are chosen inside the encrypted session
      expect(wire.indexOf(Buffer.from('BitTorrent protocol'))).toBe(-1)
    } finally {
      relay.close()
    }
  })

  it('cuts off a peer that claims a 1 GiB message instead of buffering it', async () => {
    const { a, b, inbound } = await connectedPair()
    const raw = await b.dialProtocol(a.getMultiaddrs()[0]!, WIRE_PROTOCOL)
    const serverClosed = new Promise<Error | undefined>((resolve) => {
      void inbound.then((s) => attachWire(s, createWire(), { maxMessageBytes: maxMessageBytes(100), onClose: resolve }))
    })
    const evil = new Uint8Array(68 + 4)
    evil.set(new TextEncoder().encode('\x13BitTorrent protocol')) // a handshake that passes; the guard checks it too
    new DataView(evil.buffer).setUint32(68, 2 ** 30)
    raw.send(evil)
    raw.send(new Uint8Array(64 * 1024))
    const err = await serverClosed
    expect(err).toMatchObject({ code: 'PEERSTAGE_NODE_WIRE_OVERSIZE' })
  })
})

/** Serves `data` as 128 KiB pieces over `inbound` and requests every one over `outbound`: the blocks as they arrived. */
async function requestAll(inbound: Stream, outbound: Stream, data: Uint8Array): Promise<Uint8Array[]> {
  const server: Wire = createWire()
  const client: Wire = createWire()
  attachWire(inbound, server, { maxMessageBytes: maxMessageBytes(100) })
  attachWire(outbound, client, { maxMessageBytes: maxMessageBytes(100) })
  server.on('handshake', () => { server.handshake('ab'.repeat(20), '01'.repeat(20)); server.unchoke() })
  server.on('request', (index, offset, length, respond) => respond(null, data.subarray(index * 131072 + offset, index * 131072 + offset + length)))
  const unchoked = new Promise((resolve) => client.once('unchoke', resolve))
  client.handshake('ab'.repeat(20), '02'.repeat(20))
  await unchoked
  return Promise.all(Array.from({ length: data.length / 131072 }, (_, i) => new Promise<Uint8Array>((resolve, reject) =>
    client.request(i, 0, 131072, (err, block) => (err ? reject(err) : resolve(block!))))))
}
