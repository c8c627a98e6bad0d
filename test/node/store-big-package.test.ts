import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { chunkHash, signManifest, type SignedManifest } from '../../chunker/index.ts'
import { Store } from '../../node/index.ts'
import { testKey } from '../helpers/packages.ts'
import { syntheticManifest } from '../helpers/synthetic-manifest.ts'
import { tempDir } from '../helpers/tmp.ts'

/** Where the chunk index should say each chunk of a package served from `root` is. */
function expectedLocations(signed: SignedManifest, root: string): Array<{ hash: string, path: string, offset: number, length: number }> {
  const { files, chunks } = signed.manifest
  return files.flatMap((f) => {
    const out = []
    for (let k = f.firstChunk, offset = 0; k < f.firstChunk + f.chunkCount; offset += chunks.sizes[k++]!) {
      out.push({ hash: chunkHash(chunks, k), path: join(root, ...f.path.split('/')), offset, length: chunks.sizes[k]! })
    }
    return out
  })
}

describe('store: a package of many chunks (issue 19, big manifests)', () => {
  it('indexes every chunk of a 10,000-chunk package marked present (written in slices), and removing it takes only its own entries', async () => {
    const dir = tempDir()
    const key = testKey()
    const unsigned = syntheticManifest(10_000, 3)
    const v1 = signManifest(unsigned, key)
    const v2 = signManifest({ ...unsigned, version: '2' }, key) // the same chunks, another package
    const store = await Store.open(join(dir, 'db'))
    try {
      const pkg1 = await store.addPackage(v1, join(dir, 'v1'), { readOnly: true })
      await pkg1.markPresent(Array.from({ length: pkg1.pieceCount }, (_, i) => i))
      expect(pkg1.complete).toBe(true)
      const want1 = expectedLocations(v1, join(dir, 'v1'))
      const found1 = await store.findChunks(want1.map((c) => c.hash))
      expect(found1).toEqual(want1.map(({ path, offset, length }) => ({ path, offset, length })))

      // v2 marks its second half present: those chunks now point into v2.
      const pkg2 = await store.addPackage(v2, join(dir, 'v2'), { readOnly: true })
      const half = Math.floor(pkg2.pieceCount / 2)
      await pkg2.markPresent(Array.from({ length: pkg2.pieceCount - half }, (_, i) => half + i))
      const firstOfHalf = v2.manifest.pieces[half]!.firstChunk
      const want2 = expectedLocations(v2, join(dir, 'v2'))

      await store.removePackage(v1.packageId)
      expect(await store.getPackage(v1.packageId)).toBeUndefined()
      const after = await store.findChunks(want1.map((c) => c.hash))
      after.forEach((loc, k) => {
        if (k < firstOfHalf) expect(loc, `chunk ${k}`).toBeUndefined()
        else expect(loc, `chunk ${k}`).toEqual({ path: want2[k]!.path, offset: want2[k]!.offset, length: want2[k]!.length })
      })
    } finally {
      await store.close()
    }

    // Reopened, the package's progress and its table come back from level.
    const again = await Store.open(join(dir, 'db'))
    try {
      const pkg2 = (await again.getPackage(v2.packageId))!
      expect(pkg2.manifest.chunks.count).toBe(10_000)
      expect(Buffer.from(pkg2.manifest.chunks.hashes).equals(Buffer.from(unsigned.chunks.hashes))).toBe(true)
      expect(pkg2.have.count()).toBe(pkg2.pieceCount - Math.floor(pkg2.pieceCount / 2))
    } finally {
      await again.close()
    }
  })

  it('keeps the table, not the text: an open package holds no canonical manifest, level does, and it re-adds by its stored manifest', async () => {
    const dir = tempDir()
    const key = testKey()
    const signed = signManifest(syntheticManifest(2_000, 2), key)
    const other = signManifest({ ...syntheticManifest(10, 1), version: '9' }, key)
    const store = await Store.open(join(dir, 'db'))
    try {
      const pkg = await store.addPackage(signed, join(dir, 'src'), { readOnly: true })
      expect(pkg.signed).not.toHaveProperty('canonical')
      expect(pkg.manifest.chunks).toBe(signed.manifest.chunks) // the same table, not a copy
      expect(await store.manifestText(signed.packageId)).toBe(signed.canonical)
      expect(await store.addPackage(pkg.signed, join(dir, 'src'), { readOnly: true })).toBe(pkg)
      await expect(store.addPackage({ manifest: other.manifest, packageId: other.packageId }, join(dir, 'x'), { readOnly: true })).rejects.toThrow(TypeError)
      expect(await store.manifestText(other.packageId)).toBeUndefined()
    } finally {
      await store.close()
    }
  })
})
