import { symlinkSync, truncateSync, rmSync, writeFileSync, readFileSync, chmodSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { diffManifests, pack, verifyDirectory } from '../../chunker/index.ts'
import { packSample, sampleTree, testKey, writeTree } from '../helpers/packages.ts'
import { pseudoRandomBytes, tempDir } from '../helpers/tmp.ts'

describe('pack and verify', () => {
  it('packs a directory with nested paths, modes and an empty file, and verifies it intact', async () => {
    const dir = tempDir()
    const files = sampleTree(dir)
    chmodSync(join(dir, 'setup.cmd'), 0o755)
    const { manifest } = await packSample(dir)
    expect(manifest.files.map((f) => [f.path, f.size])).toEqual(Object.entries(files).map(([p, d]) => [p, d.length]).sort())
    expect(manifest.files.find((f) => f.path === 'setup.cmd')!.mode).toBe(0o755)
    const report = await verifyDirectory(manifest, dir)
    expect(report.ok).toBe(true)
    expect(report.goodBytes).toBe(report.totalBytes)
  })

  it('packs a single file under its base name', async () => {
    const dir = tempDir()
    writeTree(dir, { 'boot.iso': pseudoRandomBytes(100_000) })
    const { manifest } = await pack(join(dir, 'boot.iso'), { name: 'boot', version: '1', privateKey: testKey() })
    expect(manifest.files.map((f) => f.path)).toEqual(['boot.iso'])
  })

  it('reports exactly the chunk holding one flipped byte, with its byte range', async () => {
    const dir = tempDir()
    sampleTree(dir)
    const { manifest } = await packSample(dir)
    const wim = manifest.files.find((f) => f.path === 'install.wim')!
    const at = 1_500_000
    const path = join(dir, 'install.wim')
    const bytes = readFileSync(path)
    bytes[at] ^= 0xff
    writeFileSync(path, bytes)

    const report = await verifyDirectory(manifest, dir)
    expect(report.ok).toBe(false)
    const bad = report.files.filter((f) => f.status !== 'ok')
    expect(bad.map((f) => f.path)).toEqual(['install.wim'])
    expect(bad[0]!.badChunks).toHaveLength(1)
    const c = bad[0]!.badChunks[0]!
    expect(c.offset).toBeLessThanOrEqual(at)
    expect(c.offset + c.length).toBeGreaterThan(at)
    // The range is the chunk's own: the manifest's sizes before it add up to its offset.
    let offset = 0
    for (let k = wim.firstChunk; k < c.index; k++) offset += manifest.chunks.sizes[k]!
    expect(c.offset).toBe(offset)
    expect(c.length).toBe(manifest.chunks.sizes[c.index])
  })

  it('reports missing files and truncated files (every chunk past the end)', async () => {
    const dir = tempDir()
    sampleTree(dir)
    const { manifest } = await packSample(dir)
    rmSync(join(dir, 'drivers/net/e1000.sys'))
    truncateSync(join(dir, 'install.wim'), 1_000_000)
    const report = await verifyDirectory(manifest, dir)
    const byPath = Object.fromEntries(report.files.map((f) => [f.path, f]))
    expect(byPath['drivers/net/e1000.sys']!.status).toBe('missing')
    const wim = byPath['install.wim']!
    expect(wim.status).toBe('bad')
    expect(wim.actualSize).toBe(1_000_000)
    const wimChunks = manifest.files.find((f) => f.path === 'install.wim')!.chunkCount
    expect(wim.badChunks.length).toBeGreaterThan(0)
    expect(wim.badChunks.at(-1)!.index).toBe(manifest.files.find((f) => f.path === 'install.wim')!.firstChunk + wimChunks - 1)
    expect(wim.badChunks.every((c) => c.offset + c.length > 1_000_000)).toBe(true)
    expect(byPath['setup.cmd']!.status).toBe('ok')
  })

  it('on the caller\'s own thread (no worker, threads 0) gives the same report as on workers', async () => {
    const dir = tempDir()
    sampleTree(dir)
    writeTree(dir, { 'sources/install.esd': pseudoRandomBytes(20_000_000, 9) }) // more than one 8 MiB job
    const { manifest } = await packSample(dir)
    const bytes = readFileSync(join(dir, 'sources/install.esd'))
    bytes[17_000_000] ^= 0xff
    writeFileSync(join(dir, 'sources/install.esd'), bytes)
    truncateSync(join(dir, 'install.wim'), 1_000_000)
    rmSync(join(dir, 'drivers/net/e1000.sys'))
    const onWorkers = await verifyDirectory(manifest, dir, { threads: 2 })
    const progress: number[] = []
    const here = await verifyDirectory(manifest, dir, { threads: 0, onProgress: (done) => progress.push(done) })
    expect(here).toEqual(onWorkers)
    expect(here.files.filter((f) => f.status !== 'ok').map((f) => f.path).sort()).toEqual(['drivers/net/e1000.sys', 'install.wim', 'sources/install.esd'])
    expect(progress.at(-1)).toBe(here.totalBytes)
  })

  it('refuses symlinks in the source, and names that cannot be directories', async () => {
    const dir = tempDir()
    sampleTree(dir)
    symlinkSync('/etc/passwd', join(dir, 'passwd'))
    await expect(pack(dir, { name: 'x', version: '1', privateKey: testKey() })).rejects.toMatchObject({ code: 'PEERSTAGE_CHUNKER_PACK_UNSUPPORTED_FILE', message: /symbolic link/ })
    await expect(pack(dir, { name: 'a/b', version: '1', privateKey: testKey() })).rejects.toMatchObject({ code: 'PEERSTAGE_CHUNKER_MANIFEST_BAD_NAME' })
    await expect(pack(join(dir, 'nope'), { name: 'x', version: '1', privateKey: testKey() })).rejects.toMatchObject({ code: 'PEERSTAGE_CHUNKER_PACK_SOURCE_UNREADABLE' })
  })

  it('reuses ~all chunks between two versions with ten small edits', async () => {
    const dir = tempDir()
    const v1 = pseudoRandomBytes(16 * 1024 * 1024, 31)
    const parts: Buffer[] = []
    let prev = 0
    for (let e = 1; e <= 10; e++) {
      const at = Math.floor((e * v1.length) / 11)
      parts.push(v1.subarray(prev, at), Buffer.from(`edit ${e}`))
      prev = at + (e % 2) * 5 // odd edits replace, even ones insert
    }
    parts.push(v1.subarray(prev))
    writeTree(dir, { 'v1/image.wim': v1, 'v2/image.wim': Buffer.concat(parts) })
    const key = testKey()
    const a = await pack(join(dir, 'v1'), { name: 'img', version: '1', privateKey: key })
    const b = await pack(join(dir, 'v2'), { name: 'img', version: '2', privateKey: key })
    const d = diffManifests(a.manifest, b.manifest)
    expect(d.totalBytes).toBe(b.totalBytes)
    expect(d.reusedBytes + d.fetchBytes).toBe(d.totalBytes)
    expect(d.fetchChunks).toBeGreaterThanOrEqual(10)
    expect(d.fetchChunks).toBeLessThanOrEqual(30)
    expect(d.reuseRatio).toBeGreaterThan(0.9)
    expect(diffManifests(a.manifest, a.manifest).fetchBytes).toBe(0)
  })
})
