import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { Level } from 'level'
import { describe, expect, it } from 'vitest'
import { pack, type PackResult } from '../../chunker/index.ts'
import { Store, type StoredPackage } from '../../node/index.ts'
import { canMountTmpfs, overwrite, setMtimeNs } from '../helpers/files.ts'
import { testKey, writeTree } from '../helpers/packages.ts'
import { pseudoRandomBytes, tempDir } from '../helpers/tmp.ts'

/** A 5 MB and a 3 MB file (three and two pieces), packed. */
async function twoFiles(dir: string): Promise<{ src: string, signed: PackResult }> {
  const src = join(dir, 'src')
  writeTree(src, { 'sources/install.wim': pseudoRandomBytes(5_000_000, 7), 'boot.wim': pseudoRandomBytes(3_000_000, 8) })
  return { src, signed: await pack(src, { name: 'win11', version: '1', privateKey: testKey() }) }
}

/** Writes every piece of the package from its source, as the swarm would. */
async function writeAll(pkg: StoredPackage, src: string): Promise<void> {
  for (const [i, p] of pkg.manifest.pieces.entries()) {
    const bytes = readFileSync(join(src, pkg.manifest.files[p.file]!.path)).subarray(p.offset, p.offset + p.length)
    await pkg.writePiece(i, bytes)
  }
}

const present = (pkg: StoredPackage): number[] => Array.from({ length: pkg.pieceCount }, (_, i) => i).filter((i) => pkg.have.get(i))

const canMount = canMountTmpfs()

describe('store: rechecks on reopen, moves across file systems (issue 14, defect 5)', () => {
  it('defect 5: reopening re-hashes the present pieces of a file whose size or mtime changed, and marks the bad ones missing', async () => {
    const dir = tempDir()
    const { src, signed } = await twoFiles(dir)
    const db = join(dir, 'db')
    const root = join(dir, 'staging')
    let store = await Store.open(db)
    await writeAll(await store.addPackage(signed, root), src)
    await store.close()

    const install = signed.manifest.files.findIndex((f) => f.path === 'sources/install.wim')
    const piece = signed.manifest.pieces.findIndex((p) => p.file === install && p.offset > 0)
    overwrite(join(root, 'sources/install.wim'), signed.manifest.pieces[piece]!.offset + 10, Buffer.alloc(18, 0xee))

    store = await Store.open(db)
    try {
      const pkg = (await store.getPackage(signed.packageId))!
      expect(present(pkg)).toEqual(Array.from({ length: pkg.pieceCount }, (_, i) => i).filter((i) => i !== piece))
      // What it found is saved: the package written to again completes.
      const p = pkg.manifest.pieces[piece]!
      await pkg.writePiece(piece, readFileSync(join(src, 'sources/install.wim')).subarray(p.offset, p.offset + p.length))
      expect(pkg.complete).toBe(true)
    } finally {
      await store.close()
    }
    // Unchanged since its last flush: trusted without hashing (the check is cheap), so an
    // edit that puts the mtime back goes unseen here; fetch's final verification catches it.
    const file = join(root, 'boot.wim')
    const mtime = statSync(file, { bigint: true }).mtimeNs
    overwrite(file, 100, Buffer.alloc(18, 0xee))
    setMtimeNs(file, mtime)
    store = await Store.open(db)
    try {
      expect((await store.getPackage(signed.packageId))!.complete).toBe(true)
    } finally {
      await store.close()
    }
  })

  it('defect 5: addPackage at a new root does not trust the progress saved for the old one', async () => {
    const dir = tempDir()
    const { src, signed } = await twoFiles(dir)
    const store = await Store.open(join(dir, 'db'))
    try {
      await writeAll(await store.addPackage(signed, join(dir, 'a')), src)
      const moved = await store.addPackage(signed, join(dir, 'b'))
      expect(moved.root).toBe(join(dir, 'b'))
      expect(present(moved)).toEqual([])
    } finally {
      await store.close()
    }
  })

  it('defect 5: a move that a crash interrupted is finished on reopen (files into a shared directory; a copied source left behind)', async () => {
    const dir = tempDir()
    const { src, signed } = await twoFiles(dir)
    const db = join(dir, 'db')
    const staging = join(dir, 'staging')
    const out = join(dir, 'out')
    let store = await Store.open(db)
    await writeAll(await store.addPackage(signed, staging), src)
    await store.close()
    // As a crash right after the record was saved, before any file moved.
    mkdirSync(join(out, '.peerstage'), { recursive: true })
    const level = new Level<string, string>(db)
    const record = JSON.parse((await level.get(`package:${signed.packageId}`))!)
    await level.put(`package:${signed.packageId}`, JSON.stringify({ ...record, movingTo: out, filesOnly: true }))
    await level.close()

    store = await Store.open(db)
    try {
      const pkg = (await store.getPackage(signed.packageId))!
      expect(pkg.root).toBe(out)
      expect(pkg.complete).toBe(true)
      for (const f of signed.manifest.files) expect(readFileSync(join(out, f.path)).equals(readFileSync(join(src, f.path))), f.path).toBe(true)
      expect(existsSync(staging)).toBe(false)
      expect(existsSync(join(out, '.peerstage'))).toBe(true) // the rest of the directory is left alone
    } finally {
      await store.close()
    }
  })

  it.skipIf(!canMount)('defect 5 (EXDEV): moveTo across file systems copies into a sibling, renames it into place and deletes the source (skipped where mount is not permitted)', async () => {
    const dir = tempDir()
    const { src, signed } = await twoFiles(dir)
    const other = join(dir, 'other')
    mkdirSync(other)
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=32m', 'tmpfs', other])
    try {
      const db = join(dir, 'db')
      const staging = join(dir, 'staging')
      const target = join(other, 'packages', 'win11@1')
      let store = await Store.open(db)
      try {
        const pkg = await store.addPackage(signed, staging)
        await writeAll(pkg, src)
        await pkg.moveTo(target)
        expect(pkg.root).toBe(target)
        expect(existsSync(staging)).toBe(false)
        expect(readdirSync(join(other, 'packages'))).toEqual(['win11@1']) // no temporary sibling left
        for (const f of signed.manifest.files) expect(readFileSync(join(target, f.path)).equals(readFileSync(join(src, f.path))), f.path).toBe(true)
        expect((await store.findChunk(pkg.chunkLocations(0)[0]!.hash))?.path).toBe(join(target, 'boot.wim'))
      } finally {
        await store.close()
      }
      store = await Store.open(db)
      try {
        const pkg = (await store.getPackage(signed.packageId))!
        expect(pkg.root).toBe(target)
        expect(pkg.complete).toBe(true) // the copies' new mtimes were taken: no piece lost to the recheck
      } finally {
        await store.close()
      }
    } finally {
      execFileSync('umount', ['-l', other])
    }
  })
  it('a move rewrites no chunk index entry, yet the chunks are found where the files went; a format-1 entry (a path) is still read', async () => {
    const dir = tempDir()
    const { src, signed } = await twoFiles(dir)
    const db = join(dir, 'db')
    const target = join(dir, 'packages', 'win11@1')
    const chunkEntries = async (): Promise<Array<[string, string]>> => {
      const level = new Level<string, string>(db)
      try {
        return await level.iterator({ gte: 'chunk:', lt: 'chunk;' }).all()
      } finally {
        await level.close()
      }
    }
    let store = await Store.open(db)
    const first = (await store.addPackage(signed, join(dir, 'staging'))).chunkLocations(0)[0]!
    await writeAll((await store.getPackage(signed.packageId))!, src)
    await store.close() // flushes: every piece indexed
    const before = await chunkEntries()
    expect(before.length).toBe(signed.manifest.chunks.count)

    store = await Store.open(db)
    await (await store.getPackage(signed.packageId))!.moveTo(target)
    await store.close()
    expect(await chunkEntries()).toEqual(before)

    const old = { path: join(src, 'boot.wim'), offset: 0, length: 10 } // as format 1 wrote it
    const level = new Level<string, string>(db)
    await level.put(`chunk:${'ab'.repeat(32)}`, JSON.stringify(old))
    await level.close()
    store = await Store.open(db)
    try {
      expect(await store.findChunk(first.hash)).toEqual({ ...first.location, path: join(target, 'boot.wim') })
      expect(await store.findChunk('ab'.repeat(32))).toEqual(old)
      await store.removePackage(signed.packageId)
      expect(await store.findChunk(first.hash)).toBeUndefined()
    } finally {
      await store.close()
    }
  })
})
