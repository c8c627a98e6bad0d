import { appendFileSync, closeSync, cpSync, openSync, readFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { chunkHash, pack, verifyDirectory, type Manifest, type PackResult } from '../../chunker/index.ts'
import type { PeerNode } from '../../node/index.ts'
import { newSwarmKey, startNode, untilComplete } from '../helpers/nodes.ts'
import { testKey, writeTree } from '../helpers/packages.ts'
import { pseudoRandomBytes, tempDir } from '../helpers/tmp.ts'

/** Overwrites bytes of a file in place. */
function overwrite(path: string, offset: number, bytes: Uint8Array): void {
  const fd = openSync(path, 'r+')
  try {
    writeSync(fd, bytes, 0, bytes.length, offset)
  } finally {
    closeSync(fd)
  }
}

/**
 * v1: a 6 MB and a 3 MB image and a script; v2: 100 bytes overwritten at three places in
 * the 6 MB file, 50 kB appended to the 3 MB one, one small file added.
 */
async function twoVersions(dir: string): Promise<{ src1: string, src2: string, v1: PackResult, v2: PackResult }> {
  const key = testKey()
  const src1 = join(dir, 'src1')
  writeTree(src1, { 'sources/install.wim': pseudoRandomBytes(6_000_000, 31), 'sources/boot.wim': pseudoRandomBytes(3_000_000, 32), 'setup.cmd': '@echo off\r\n' })
  const v1 = await pack(src1, { name: 'win11', version: '1', privateKey: key })
  const src2 = join(dir, 'src2')
  cpSync(src1, src2, { recursive: true })
  for (const [i, at] of [1_000_000, 3_000_000, 5_500_000].entries()) overwrite(join(src2, 'sources/install.wim'), at, pseudoRandomBytes(100, 40 + i))
  appendFileSync(join(src2, 'sources/boot.wim'), pseudoRandomBytes(50_000, 50))
  writeTree(src2, { 'drivers/new.inf': pseudoRandomBytes(20_000, 51) })
  const v2 = await pack(src2, { name: 'win11', version: '2', privateKey: key })
  return { src1, src2, v1, v2 }
}

/** v2's chunks whose hashes v1 lacks, and the pieces holding any of them. */
function newChunks(v1: Manifest, v2: Manifest): { bytes: number, isNew: (k: number) => boolean, pieces: number[], pieceBytes: number } {
  const held = new Set(Array.from({ length: v1.chunks.sizes.length }, (_, k) => chunkHash(v1.chunks, k)))
  const isNew = (k: number): boolean => !held.has(chunkHash(v2.chunks, k))
  const bytes = v2.chunks.sizes.reduce((n, size, k) => n + (isNew(k) ? size : 0), 0)
  const pieces = v2.pieces.flatMap((p, i) => Array.from({ length: p.chunkCount }, (_, j) => p.firstChunk + j).some(isNew) ? [i] : [])
  return { bytes, isNew, pieces, pieceBytes: pieces.reduce((n, i) => n + v2.pieces[i]!.length, 0) }
}

/** Counts the bytes `node` downloads for a package, and the pieces and bans its swarm reports. */
function watch(node: PeerNode, packageId: string): { downloaded: number, badPieces: number[], bans: string[] } {
  const seen = { downloaded: 0, badPieces: [] as number[], bans: [] as string[] }
  const swarm = node.swarmOf(packageId)!
  swarm.on('download', (n) => { seen.downloaded += n })
  swarm.on('badPiece', (i) => seen.badPieces.push(i))
  swarm.on('ban', (id) => seen.bans.push(id))
  return seen
}

describe('a new version with small edits inside large files', () => {
  it('moves only the changed chunks, not the pieces around them', async () => {
    const dir = tempDir()
    const key = newSwarmKey(dir)
    const { src1, src2, v1, v2 } = await twoVersions(dir)
    const dp = await startNode(join(dir, 'dp'), key, '127.0.10.1')
    await dp.seed(v1, src1)
    await dp.seed(v2, src2)
    // The holder fetched v1 into its own store: its chunk index points there.
    const holder = await startNode(join(dir, 'holder'), key, '127.0.1.1')
    await holder.want(v1, join(dir, 'v1'))
    await holder.connect(v1.packageId, dp.addresses[0]!)
    await untilComplete(holder, v1.packageId)

    const swarm = await holder.want(v2, join(dir, 'v2'))
    const reused = await holder.reuseLocalChunks(swarm.pkg)
    const seen = watch(holder, v2.packageId)
    await holder.connect(v2.packageId, dp.addresses[0]!)
    await untilComplete(holder, v2.packageId)

    expect((await verifyDirectory(v2.manifest, join(dir, 'v2'))).ok).toBe(true)
    const fresh = newChunks(v1.manifest, v2.manifest)
    console.log(`partial reuse: downloaded ${seen.downloaded} B; v2 chunks not held ${fresh.bytes} B; whole pieces holding them (old behaviour) ${fresh.pieceBytes} B in ${fresh.pieces.length} of ${v2.manifest.pieces.length} pieces; v2 ${v2.totalBytes} B`)
    expect(seen.downloaded).toBeGreaterThan(0)
    expect(seen.downloaded).toBeGreaterThanOrEqual(fresh.bytes)
    expect(seen.downloaded).toBeLessThanOrEqual(1.1 * fresh.bytes)
    expect(fresh.pieceBytes).toBeGreaterThan(5 * fresh.bytes) // what the piece-only reuse moved
    expect(reused + seen.downloaded).toBe(v2.totalBytes)
    expect(holder.reusedBytesOf(v2.packageId)).toBe(reused)
    expect(await holder.metrics.localReuseBytes.get()).toMatchObject({ values: [{ value: reused }] })
    expect(seen.badPieces).toEqual([])
  })

  it('a held chunk whose file changed after it was planned in: the piece is fetched whole, no peer is blamed', async () => {
    const dir = tempDir()
    const key = newSwarmKey(dir)
    const { src1, src2, v1, v2 } = await twoVersions(dir)
    const dp = await startNode(join(dir, 'dp'), key, '127.0.10.1')
    await dp.seed(v2, src2)
    // The holder serves v1 in place from its source: those chunks are indexed too. One
    // strike would ban the DP.
    const holder = await startNode(join(dir, 'holder'), key, '127.0.1.1', { swarm: { maxStrikes: 1 } })
    await holder.seed(v1, src1)
    const swarm = await holder.want(v2, join(dir, 'v2'))
    await holder.reuseLocalChunks(swarm.pkg)

    // A piece mixing held and new chunks; one of its held chunks is changed on disk.
    const fresh = newChunks(v1.manifest, v2.manifest)
    const piece = fresh.pieces.find((i) => {
      const p = v2.manifest.pieces[i]!
      return Array.from({ length: p.chunkCount }, (_, j) => p.firstChunk + j).some((k) => !fresh.isNew(k))
    })!
    const p = v2.manifest.pieces[piece]!
    const heldChunk = Array.from({ length: p.chunkCount }, (_, j) => p.firstChunk + j).find((k) => !fresh.isNew(k))!
    const at = (await holder.store.findChunk(chunkHash(v2.manifest.chunks, heldChunk)))!
    expect(at.path.startsWith(src1)).toBe(true)
    const before = readFileSync(at.path).subarray(at.offset, at.offset + 10)
    overwrite(at.path, at.offset, before.map((b) => b ^ 0xff))

    const seen = watch(holder, v2.packageId)
    await holder.connect(v2.packageId, dp.addresses[0]!)
    await untilComplete(holder, v2.packageId)

    expect((await verifyDirectory(v2.manifest, join(dir, 'v2'))).ok).toBe(true)
    expect(seen.badPieces).toEqual([piece])
    expect(seen.bans).toEqual([])
    expect(swarm.peerCount).toBe(1)
    // Every new chunk once, then that piece once more in full.
    expect(seen.downloaded).toBe(fresh.bytes + p.length)
  })
})
