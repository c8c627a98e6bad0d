import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { SignedManifest } from '../../chunker/index.ts'
import { silentLogger } from '../../common/index.ts'
import { Store, type StoredPackage } from '../../node/store/index.ts'
import { PackageSwarm } from '../../node/swarm.ts'
import { carry, type Carried } from '../../node/wire/carry.ts'
import { createWire, HANDSHAKE_BYTES, infoHashOf, maxMessageBytes, type Wire } from '../../node/wire/index.ts'
import { packSample, writeTree } from '../helpers/packages.ts'
import { pseudoRandomBytes } from '../helpers/tmp.ts'

/**
 * A LAN peer's word on which pieces it has counts for as long as its wire is up, and no
 * longer: while a LAN peer offers a piece, the DP across the WAN is not asked for it. A peer
 * whose bitfield is refused, or that sends a second one, must leave no count behind (found
 * by the fuzzer: the counts wrapped to 2^32 - 1 or stayed at 1, and the piece never came).
 */

const u32 = (n: number): number[] => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]
const frame = (id: number, body: number[] = []): Uint8Array => Uint8Array.from([...u32(1 + body.length), id, ...body])

const dir = mkdtempSync(join(tmpdir(), 'peerstage-test-'))
let signed: SignedManifest
let src: string
const stores: Store[] = []
const swarms: PackageSwarm[] = []

beforeAll(async () => {
  src = join(dir, 'src')
  // Nine files, nine pieces: a bitfield of two bytes, seven spare bits.
  writeTree(src, Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`f${i}.bin`, pseudoRandomBytes(20_000 + i * 5_000, 60 + i)])))
  const packed = await packSample(src)
  signed = { manifest: packed.manifest, packageId: packed.packageId, canonical: packed.canonical }
})

afterEach(async () => {
  await Promise.all(swarms.splice(0).map((s) => s.stop()))
  await Promise.all(stores.splice(0).map((s) => s.close()))
})

afterAll(() => rmSync(dir, { recursive: true, force: true }))

async function storeOf(name: string): Promise<Store> {
  const store = await Store.open(join(dir, `${name}-${stores.length}`, 'db'))
  stores.push(store)
  return store
}

/** A wire the swarm adopts once the remote's handshake for the package arrives, as PeerNode's inbound side does. */
function adoptOnHandshake(swarm: PackageSwarm, id: string): Wire {
  const wire = createWire()
  wire.once('handshake', (infoHash: string) => {
    wire.handshake(infoHash, Buffer.from(id.padEnd(20, '-').slice(0, 20)).toString('hex'))
    swarm.adopt(wire, { id, ip: id === 'dp' ? '127.0.10.1' : '127.0.1.66' })
  })
  return wire
}

/** Two swarms on two wires whose bytes go to each other (the codec piped to itself, no socket). */
function connect(a: PackageSwarm, aId: string, b: PackageSwarm, bId: string): void {
  const max = maxMessageBytes(signed.manifest.pieces.length)
  let toA: Carried | undefined
  let toB: Carried | undefined
  const pipe = (to: () => Carried | undefined) => ({ send: (parts: Uint8Array[]) => { for (const p of parts) to()?.receive(Uint8Array.from(p)); return true }, drained: async () => {}, end: () => to()?.close() })
  const wireA = adoptOnHandshake(a, bId) // a's wire to b
  const wireB = createWire()
  toA = carry(pipe(() => toB), wireA, { maxMessageBytes: max })
  toB = carry(pipe(() => toA), wireB, { maxMessageBytes: max })
  wireB.once('handshake', () => b.adopt(wireB, { id: aId, ip: '127.0.1.1' }))
  wireB.handshake(infoHashOf(signed.packageId), Buffer.from(bId.padEnd(20, '-').slice(0, 20)).toString('hex'))
}

/** A client swarm that counts the DP as across the WAN, and a DP swarm seeding the package. */
async function clientAndDp(): Promise<{ client: PackageSwarm, pkg: StoredPackage, dp: PackageSwarm }> {
  const clientPkg = await (await storeOf('client')).addPackage(signed, join(dir, `out-${stores.length}`))
  const client = new PackageSwarm(clientPkg, { isWanPeer: (p) => p.id === 'dp' }, silentLogger())
  const dpPkg = await (await storeOf('dp')).addPackage(signed, src, { readOnly: true })
  await dpPkg.markPresent(Array.from({ length: dpPkg.pieceCount }, (_, i) => i))
  const dp = new PackageSwarm(dpPkg, {}, silentLogger())
  swarms.push(client, dp)
  return { client, pkg: clientPkg, dp }
}

/** A hand-written LAN peer: its handshake, then `messages`, then it hangs up. */
async function lanPeerSays(client: PackageSwarm, messages: Uint8Array[]): Promise<void> {
  const wire = adoptOnHandshake(client, 'lan-peer')
  const carried = carry({ send: () => true, drained: async () => {}, end: () => {} }, wire, { maxMessageBytes: maxMessageBytes(signed.manifest.pieces.length) })
  const handshake = Buffer.alloc(HANDSHAKE_BYTES)
  handshake[0] = 19
  handshake.write('BitTorrent protocol', 1)
  handshake.write(infoHashOf(signed.packageId), 28, 'hex')
  handshake.fill(0x66, 48)
  carried.receive(handshake)
  for (const m of messages) carried.receive(m)
  await new Promise((resolve) => setImmediate(resolve))
  carried.close()
  await new Promise((resolve) => setImmediate(resolve))
  expect(client.peerCount).toBe(0)
}

function complete(client: PackageSwarm, pkg: StoredPackage): Promise<void> {
  if (pkg.complete) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pieces ${pkg.have.count()}/${pkg.pieceCount}: the DP was not asked for the rest`)), 20_000)
    client.once('complete', () => { clearTimeout(timer); resolve() })
  })
}

describe('piece availability once a LAN peer is gone', () => {

  it('a refused bitfield (spare bits set) leaves no count: the DP is asked for every piece', async () => {
    const { client, pkg, dp } = await clientAndDp()
    expect(pkg.pieceCount).toBe(9)
    // Piece 7, and a spare bit past piece 8: refused, the peer dropped.
    await lanPeerSays(client, [frame(5, [0x01, 0x01])])
    connect(client, 'client', dp, 'dp')
    await complete(client, pkg)
    expect(pkg.complete).toBe(true)
  })

  it('a second bitfield, or a have and then a bitfield without it, leaves no count behind', async () => {
    const { client, pkg, dp } = await clientAndDp()
    await lanPeerSays(client, [frame(5, [0x01, 0x00]), frame(5, [0x00, 0x00]), frame(4, u32(3)), frame(5, [0x00, 0x00])])
    connect(client, 'client', dp, 'dp')
    await complete(client, pkg)
    expect(pkg.complete).toBe(true)
  })
})
