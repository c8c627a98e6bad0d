import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { askTicket, bulkConnect, TicketBook } from '../../node/bulk/index.ts'
import { createHost, dialPeer, type Host } from '../../node/host.ts'
import type { PeerNode } from '../../node/peer-node.ts'
import { attachWireToSocket, createWire, infoHashOf, maxMessageBytes } from '../../node/wire/index.ts'
import { FakeClock } from '../helpers/fake-clock.ts'
import { dpSeedingSample, newSwarmKey, startNode, untilComplete } from '../helpers/nodes.ts'
import { capturingRelay } from '../helpers/relay.ts'
import { tempDir } from '../helpers/tmp.ts'
import { until } from '../helpers/until.ts'

const hosts: Host[] = []
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.stop()))
})

async function wires(node: PeerNode, transport: 'bulk' | 'libp2p'): Promise<number> {
  return (await node.metrics.wires.get()).values.find((v) => v.labels.transport === transport)?.value ?? 0
}

/** A DP seeding a 5 MB multi-file package and a client wanting it, on two subnets. */
async function dpAndClient(dpInit: Parameters<typeof startNode>[3] = {}) {
  const { dir, key, src, packed, dp } = await dpSeedingSample(dpInit)
  const client = await startNode(join(dir, 'client'), key, '127.0.1.1')
  const out = join(dir, 'out')
  await client.want(packed, out)
  const sameFiles = () => packed.manifest.files.every((f) => readFileSync(join(src, f.path)).equals(readFileSync(join(out, f.path))))
  return { key, packed, dp, client, sameFiles }
}

describe('the bulk channel (TLS 1.3 PSK beside libp2p)', () => {
  it('carries a transfer, byte-identical, each side seeing the other by libp2p peer id and IP', async () => {
    const { packed, dp, client, sameFiles } = await dpAndClient()
    const uploadedTo = new Set<string>()
    dp.swarmOf(packed.packageId)!.on('upload', (_n, p) => uploadedTo.add(`${p.id}@${p.ip}`))
    const downloadedFrom = new Set<string>()
    client.swarmOf(packed.packageId)!.on('download', (_n, p) => downloadedFrom.add(`${p.id}@${p.ip}`))
    await client.connect(packed.packageId, dp.addresses[0]!)
    await untilComplete(client, packed.packageId)
    expect(sameFiles()).toBe(true)
    expect([await wires(client, 'bulk'), await wires(dp, 'bulk')]).toEqual([1, 1])
    expect([await wires(client, 'libp2p'), await wires(dp, 'libp2p')]).toEqual([0, 0])
    expect([...uploadedTo]).toEqual([`${client.peerId}@127.0.1.1`])
    expect([...downloadedFrom]).toEqual([`${dp.peerId}@127.0.10.1`])
    expect(dp.bulkPort).toBeGreaterThan(0)
  })

  it('falls back to a libp2p stream when the peer runs no bulk server', async () => {
    const { packed, dp, client, sameFiles } = await dpAndClient({ bulk: false })
    expect(dp.bulkPort).toBeUndefined()
    await client.connect(packed.packageId, dp.addresses[0]!)
    await untilComplete(client, packed.packageId)
    expect(sameFiles()).toBe(true)
    expect([await wires(client, 'libp2p'), await wires(dp, 'libp2p')]).toEqual([1, 1])
    expect(await wires(client, 'bulk')).toBe(0)
  })

  it('two peers dialling each other at once keep the same one of the two wires', async () => {
    const { packed, dp, client, sameFiles } = await dpAndClient()
    // Without one rule both sides follow, each keeps the wire it dialled and closes the other's: none is left.
    // One of the two dials may report its wire closed (the other one won): only the end state counts.
    await Promise.allSettled([client.connect(packed.packageId, dp.addresses[0]!), dp.connect(packed.packageId, client.addresses[0]!)])
    await untilComplete(client, packed.packageId)
    expect(sameFiles()).toBe(true)
    await until(() => client.swarmOf(packed.packageId)!.peerCount === 1 && dp.swarmOf(packed.packageId)!.peerCount === 1, 'one wire each side')
  })

  it('opens one wire per ticket: a replayed, forged or wrongly keyed ticket gets no TLS session and no wire', async () => {
    const { key, packed, dp } = await dpAndClient()
    const asker = await createHost({ swarmKey: key, listen: ['/ip4/127.0.2.1/tcp/0'], dialFrom: '127.0.2.1' })
    hosts.push(asker)
    const conn = await dialPeer(asker, dp.addresses[0]!)
    const signal = AbortSignal.timeout(5000)

    // The first use of a ticket: a TLS session, and a wire the DP routes to the package.
    const ticket = await askTicket(conn, { signal })
    const socket = await bulkConnect('127.0.10.1', ticket, { localAddress: '127.0.2.1' })
    const wire = createWire()
    attachWireToSocket(socket, wire, { maxMessageBytes: maxMessageBytes(100) })
    const answered = new Promise<string>((resolve) => wire.once('handshake', resolve))
    wire.handshake(infoHashOf(packed.packageId), 'ab'.repeat(20))
    expect(await answered).toBe(infoHashOf(packed.packageId))
    expect(await wires(dp, 'bulk')).toBe(1)

    await expect(bulkConnect('127.0.10.1', ticket)).rejects.toThrow() // replayed
    await expect(bulkConnect('127.0.10.1', { ...ticket, identity: randomBytes(16).toString('hex'), secret: randomBytes(32) })).rejects.toThrow() // forged
    const fresh = await askTicket(conn, { signal })
    await expect(bulkConnect('127.0.10.1', { ...fresh, secret: randomBytes(32) })).rejects.toThrow() // right identity, wrong secret
    await expect(bulkConnect('127.0.10.1', fresh)).rejects.toThrow() // ...which used the ticket up
    expect(await wires(dp, 'bulk')).toBe(1)
    wire.destroy()
  })

  it('guards frames on the TLS socket: a claimed 1 GiB message cuts the peer off', async () => {
    const { key, packed, dp } = await dpAndClient()
    const asker = await createHost({ swarmKey: key, listen: ['/ip4/127.0.2.1/tcp/0'], dialFrom: '127.0.2.1' })
    hosts.push(asker)
    const ticket = await askTicket(await dialPeer(asker, dp.addresses[0]!), { signal: AbortSignal.timeout(5000) })
    const socket = await bulkConnect('127.0.10.1', ticket)
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
    const handshake = Buffer.alloc(68)
    handshake[0] = 19
    handshake.write('BitTorrent protocol', 1)
    handshake.write(infoHashOf(packed.packageId), 28, 'hex')
    const answered = new Promise<Buffer>((resolve) => socket.once('data', resolve))
    socket.write(handshake)
    expect((await answered).subarray(28, 48).toString('hex')).toBe(infoHashOf(packed.packageId)) // a wire, routed
    socket.write(Buffer.from([0x40, 0, 0, 0, 7]))
    await closed
    expect(await wires(dp, 'bulk')).toBe(1)
  })

  it('puts no byte of a piece on the wire in the clear (captured through a TCP relay)', async () => {
    const { key, packed, dp } = await dpAndClient()
    const asker = await createHost({ swarmKey: key, listen: ['/ip4/127.0.2.1/tcp/0'], dialFrom: '127.0.2.1' })
    hosts.push(asker)
    const ticket = await askTicket(await dialPeer(asker, dp.addresses[0]!), { signal: AbortSignal.timeout(5000) })
    const relay = await capturingRelay('127.0.2.9', { host: '127.0.10.1', port: ticket.port })
    try {
      const socket = await bulkConnect('127.0.2.9', { ...ticket, port: relay.port }, { localAddress: '127.0.2.1' })
      const wire = createWire()
      attachWireToSocket(socket, wire, { maxMessageBytes: maxMessageBytes(packed.manifest.pieces.length) })
      const unchoked = new Promise<void>((resolve) => wire.once('unchoke', () => resolve()))
      wire.handshake(infoHashOf(packed.packageId), 'ab'.repeat(20))
      await unchoked
      const piece = packed.manifest.pieces.findIndex((p) => p.length >= 131072)
      const block = await new Promise<Uint8Array>((resolve, reject) => wire.request(piece, 0, 131072, (err, b) => err ? reject(err) : resolve(b!)))
      expect(block.length).toBe(131072)
      const wireBytes = relay.captured()
      expect(wireBytes.byteLength).toBeGreaterThan(block.length) // the block did cross the relay
      const run = Buffer.from(block.subarray(70_000, 70_064)) // 64 bytes from its middle
      expect(wireBytes.indexOf(run)).toBe(-1)
      expect(Buffer.concat([wireBytes, run]).indexOf(run)).toBe(wireBytes.byteLength) // the search itself works
      expect(wireBytes.indexOf(Buffer.from('BitTorrent protocol'))).toBe(-1)
      expect(wireBytes.indexOf(Buffer.from(infoHashOf(packed.packageId), 'hex'))).toBe(-1)
      wire.destroy()
    } finally {
      relay.close()
    }
  })

  it('gives no ticket to a node with another swarm key: noise fails first', async () => {
    const { dp } = await dpAndClient()
    const stranger = await createHost({ swarmKey: newSwarmKey(tempDir()), listen: ['/ip4/127.0.3.1/tcp/0'] })
    hosts.push(stranger)
    await expect(dialPeer(stranger, dp.addresses[0]!)).rejects.toMatchObject({ code: 'PEERSTAGE_NODE_SWARM_KEY_MISMATCH' })
  })
})

describe('TicketBook', () => {
  it('hands a ticket over once, to the peer it was issued to, before it expires', async () => {
    const clock = new FakeClock()
    const book = new TicketBook({ ticketTtlMs: 10_000, maxTickets: 2, clock })
    const a = book.issue('peer-a', 4000)!
    const b = book.issue('peer-b', 4000)!
    expect(book.issue('peer-c', 4000)).toBeUndefined() // too many outstanding
    expect(book.take(a.identity)).toEqual({ peerId: 'peer-a', secret: a.secret, expiresAt: 10_000 })
    expect(book.take(a.identity)).toBeUndefined()
    await clock.advance(10_000)
    expect(book.take(b.identity)).toBeUndefined() // expired
    expect(book.issue('peer-c', 4000)).toBeDefined()
  })
})
