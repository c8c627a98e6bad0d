import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { verifyDirectory } from '../../chunker/index.ts'
import { newSwarmKey, startNode, untilComplete } from '../helpers/nodes.ts'
import { packSample, sampleTree, writeTree } from '../helpers/packages.ts'
import { pseudoRandomBytes, tempDir } from '../helpers/tmp.ts'
import { until } from '../helpers/until.ts'

async function bigSample(dir: string) {
  const src = join(dir, 'src')
  sampleTree(src)
  writeTree(src, { 'sources/install.esd': pseudoRandomBytes(12_000_000, 77) })
  return { src, packed: await packSample(src) }
}

function sameFiles(a: string, b: string, paths: string[]): boolean {
  return paths.every((p) => readFileSync(join(a, p)).equals(readFileSync(join(b, p))))
}

describe('two and five nodes on loopback', () => {
  it('a client fetches a multi-file package from a DP, byte-identical and verified', async () => {
    const dir = tempDir()
    const key = newSwarmKey(dir)
    const { src, packed } = await bigSample(dir)
    const dp = await startNode(join(dir, 'dp'), key, '127.0.10.1')
    await dp.seed(packed, src)
    const client = await startNode(join(dir, 'client'), key, '127.0.1.1')
    const out = join(dir, 'out')
    await client.want(packed, out)
    await client.connect(packed.packageId, dp.addresses[0]!)
    await untilComplete(client, packed.packageId)
    expect((await verifyDirectory(packed.manifest, out)).ok).toBe(true)
    expect(sameFiles(src, out, packed.manifest.files.map((f) => f.path))).toBe(true)
  })

  it('five nodes: clients serve each other (the DP leaves after feeding one of them)', async () => {
    const dir = tempDir()
    const key = newSwarmKey(dir)
    const { src, packed } = await bigSample(dir)
    const dp = await startNode(join(dir, 'dp'), key, '127.0.10.1')
    await dp.seed(packed, src)
    const clients = await Promise.all([1, 2, 3, 4].map((h) => startNode(join(dir, `c${h}`), key, `127.0.1.${h}`)))
    for (const [i, c] of clients.entries()) await c.want(packed, join(dir, `out${i}`))
    const [first, ...rest] = clients as [typeof clients[0], ...typeof clients]
    await first.connect(packed.packageId, dp.addresses[0]!)
    await untilComplete(first, packed.packageId)
    await dp.stop() // from here on every byte comes from another client
    const fromPeers = new Map<string, number>()
    for (const [i, c] of rest.entries()) {
      c.swarmOf(packed.packageId)!.on('download', (n, from) => fromPeers.set(from.id, (fromPeers.get(from.id) ?? 0) + n))
      await c.connect(packed.packageId, first.addresses[0]!)
      for (const other of rest.slice(0, i)) await c.connect(packed.packageId, other.addresses[0]!)
    }
    await Promise.all(rest.map((c) => untilComplete(c, packed.packageId)))
    for (const i of clients.keys()) expect(sameFiles(src, join(dir, `out${i}`), packed.manifest.files.map((f) => f.path))).toBe(true)
    // Endgame may fetch a few blocks twice, so at least three packages crossed between clients.
    expect([...fromPeers.values()].reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(3 * packed.totalBytes)
    expect(fromPeers.has(dp.peerId)).toBe(false)
  })
})

describe('bad peers and reuse', () => {
  it('bans a peer serving corrupted data and completes from an honest one', async () => {
    const dir = tempDir()
    const key = newSwarmKey(dir)
    const { src, packed } = await bigSample(dir)
    // The evil DP seeds a copy that passes its start-up check, then rots on disk.
    const evilSrc = join(dir, 'evil-src')
    const { cpSync, writeFileSync } = await import('node:fs')
    cpSync(src, evilSrc, { recursive: true })
    const evil = await startNode(join(dir, 'evil'), key, '127.0.10.66')
    await evil.seed(packed, evilSrc)
    for (const f of packed.manifest.files.filter((x) => x.size > 0)) {
      const path = join(evilSrc, f.path)
      const bytes = readFileSync(path)
      for (let i = 0; i < bytes.length; i += 4096) bytes[i] ^= 0xff
      writeFileSync(path, bytes)
    }
    const honest = await startNode(join(dir, 'dp'), key, '127.0.10.1')
    await honest.seed(packed, src)

    const client = await startNode(join(dir, 'client'), key, '127.0.1.1')
    const out = join(dir, 'out')
    const swarm = await client.want(packed, out)
    const banned: string[] = []
    swarm.on('ban', (peer) => banned.push(peer))
    // The evil DP alone first, so it is surely asked for pieces; then an honest one.
    const ban = new Promise((resolve) => swarm.once('ban', resolve))
    await client.connect(packed.packageId, evil.addresses[0]!)
    await ban
    expect(swarm.pkg.have.count()).toBe(0) // nothing bad was written
    await client.connect(packed.packageId, honest.addresses[0]!)
    await untilComplete(client, packed.packageId)
    expect(banned).toEqual([evil.peerId])
    expect((await verifyDirectory(packed.manifest, out)).ok).toBe(true)
  })

  it('a second version reuses the first one\'s chunks and fetches only what changed', async () => {
    const dir = tempDir()
    const key = newSwarmKey(dir)
    const { src, packed: v1 } = await bigSample(dir)
    const dp = await startNode(join(dir, 'dp'), key, '127.0.10.1')
    await dp.seed(v1, src)
    const client = await startNode(join(dir, 'client'), key, '127.0.1.1')
    await client.want(v1, join(dir, 'v1'))
    await client.connect(v1.packageId, dp.addresses[0]!)
    await untilComplete(client, v1.packageId)

    // Version 2: one small file changed, one added; the 12 MB and 3 MB files unchanged.
    const src2 = join(dir, 'src2')
    const { cpSync } = await import('node:fs')
    cpSync(src, src2, { recursive: true })
    writeTree(src2, { 'setup.cmd': '@echo version 2\r\n', 'drivers/new.inf': pseudoRandomBytes(200_000, 5) })
    const { pack } = await import('../../chunker/index.ts')
    const v2 = await pack(src2, { name: 'win11', version: '24H3', privateKey: (await packSample(src)).key })
    await dp.seed(v2, src2)

    const swarm = await client.want(v2, join(dir, 'v2'))
    const reused = await client.reuseLocalChunks(swarm.pkg)
    let fetched = 0
    swarm.on('download', (n) => { fetched += n })
    await client.connect(v2.packageId, dp.addresses[0]!)
    await untilComplete(client, v2.packageId)
    expect((await verifyDirectory(v2.manifest, join(dir, 'v2'))).ok).toBe(true)
    const changed = '@echo version 2\r\n'.length + 200_000
    expect(reused + fetched).toBe(v2.totalBytes)
    expect(fetched).toBeGreaterThanOrEqual(changed)
    expect(fetched).toBeLessThanOrEqual(changed + 64 * 1024) // only the changed files' pieces crossed the wire
  })
})

describe('a peer no longer asked (a WAN lease gone)', () => {
  it('takes the blocks already asked for, asks no more, then closes the wire: nothing the DP sent is wasted', async () => {
    const dir = tempDir()
    const key = newSwarmKey(dir)
    const { src, packed } = await bigSample(dir)
    const { TokenBucket } = await import('../../bandwidth/index.ts')
    // A slow DP, so blocks are still on their way when the client stops asking.
    const slowLink = new TokenBucket({ rateBytesPerSec: 4 * 1024 * 1024 })
    const dp = await startNode(join(dir, 'dp'), key, '127.0.10.1', { uploadLimiterFor: () => slowLink })
    await dp.seed(packed, src)
    let uploaded = 0
    dp.swarmOf(packed.packageId)!.on('upload', (n) => { uploaded += n })
    const client = await startNode(join(dir, 'client'), key, '127.0.1.1', { swarm: { maxInflightBlocks: 8 } })
    const swarm = await client.want(packed, join(dir, 'out'))
    let downloaded = 0
    swarm.on('download', (n) => { downloaded += n })
    await client.connect(packed.packageId, dp.addresses[0]!)
    await new Promise<void>((resolve) => swarm.on('download', () => { if (downloaded >= 256 * 1024) resolve() }))

    const atRetire = downloaded
    const closed = new Promise<void>((resolve) => swarm.on('peers', (n) => { if (n === 0) resolve() }))
    swarm.retirePeer(dp.peerId, 'no WAN lease')
    expect(swarm.usefulPeerCount).toBe(0)
    await closed
    expect(downloaded).toBeGreaterThan(atRetire) // the blocks on their way landed
    expect(downloaded - atRetire).toBeLessThanOrEqual(8 * 128 * 1024) // and nothing was asked after
    await new Promise((r) => setTimeout(r, 300))
    expect(uploaded).toBe(downloaded)
    expect(swarm.pkg.complete).toBe(false)
  })
})

describe('a peer that goes while its uploads wait for bandwidth', () => {
  it('its waiting uploads give up and leave the upload limiter\'s queue; nothing is sent', async () => {
    const dir = tempDir()
    const key = newSwarmKey(dir)
    const { src, packed } = await bigSample(dir)
    const { TokenBucket } = await import('../../bandwidth/index.ts')
    // 1 byte/s: a 128 KiB block would wait a day and a half.
    const slowLink = new TokenBucket({ rateBytesPerSec: 1 })
    const dp = await startNode(join(dir, 'dp'), key, '127.0.10.1', { uploadLimiterFor: () => slowLink })
    await dp.seed(packed, src)
    const served = dp.swarmOf(packed.packageId)!
    let uploaded = 0
    served.on('upload', (n) => { uploaded += n })
    const client = await startNode(join(dir, 'client'), key, '127.0.1.1')
    const swarm = await client.want(packed, join(dir, 'out'))
    await client.connect(packed.packageId, dp.addresses[0]!)
    await until(() => slowLink.waiting > 0, 'uploads waiting for the DP\'s limiter')

    swarm.dropPeer(dp.peerId, 'going away')
    await until(() => served.peerCount === 0, 'the DP to see the client go')
    await until(() => slowLink.waiting === 0, 'the waiting uploads to leave the limiter\'s queue', 5_000)
    expect(uploaded).toBe(0)
    expect(swarm.pkg.have.count()).toBe(0)
  })
})

describe('without a tracker, a seed is spared (taken for the origin)', () => {
  it('a node asks the seed only for pieces no downloading peer offers', async () => {
    const dir = tempDir()
    const key = newSwarmKey(dir)
    const src = join(dir, 'src')
    writeTree(src, { 'install.wim': pseudoRandomBytes(40_000_000, 78) }) // ~20 pieces: more than one peer's requests in flight
    const packed = await packSample(src)
    const dp = await startNode(join(dir, 'dp'), key, '127.0.10.1')
    await dp.seed(packed, src)
    // A peer that holds half the package: it fetched pieces, slowly, and was stopped.
    const { TokenBucket } = await import('../../bandwidth/index.ts')
    const partialDir = join(dir, 'partial')
    const first = await startNode(partialDir, key, '127.0.1.1', { downloadLimiter: new TokenBucket({ rateBytesPerSec: 16e6 }) })
    await first.want(packed, join(dir, 'out-partial'))
    await first.connect(packed.packageId, dp.addresses[0]!)
    const swarmOfFirst = first.swarmOf(packed.packageId)!
    await until(() => swarmOfFirst.pkg.have.count() >= swarmOfFirst.pkg.pieceCount / 2, 'half the pieces at the partial peer', 30_000)
    await first.stop()
    const partial = await startNode(partialDir, key, '127.0.1.1')
    const held = (await partial.want(packed, join(dir, 'out-partial'))).pkg
    expect(held.complete).toBe(false)
    const heldBytes = packed.manifest.pieces.filter((_, i) => held.have.get(i)).reduce((n, p) => n + p.length, 0)

    const client = await startNode(join(dir, 'client'), key, '127.0.1.2', { spareSeeds: true })
    const swarm = await client.want(packed, join(dir, 'out'))
    const from = new Map<string, number>()
    swarm.on('download', (n, peer) => from.set(peer.id, (from.get(peer.id) ?? 0) + n))
    // The partial peer first, so its bitfield is in before the seed could be asked for anything.
    await client.connect(packed.packageId, partial.addresses[0]!)
    await until(() => swarm.usefulPeerCount === 1, 'the partial peer\'s bitfield')
    await client.connect(packed.packageId, dp.addresses[0]!)
    await untilComplete(client, packed.packageId)
    expect(sameFiles(src, join(dir, 'out'), packed.manifest.files.map((f) => f.path))).toBe(true)
    expect(from.get(partial.peerId)).toBe(heldBytes)
    expect(from.get(dp.peerId)).toBe(packed.totalBytes - heldBytes)
  })
})
