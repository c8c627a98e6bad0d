import { constants } from 'node:fs'
import { copyFile, mkdir, open, rename, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Manifest } from '../../chunker/index.ts'
import { filePath } from './package-files.ts'

/**
 * Moving a package's files between roots. A rename where it can; across file systems
 * (EXDEV, e.g. a staging directory on another disk than the target) a copy into a
 * temporary sibling, flushed, renamed into place: the target never holds a partial file.
 */

/** Suffix of a target being copied into; deleted before each attempt. */
const MOVING = '.peerstage-moving'

/** Moves the whole directory `from` to `to` (replacing it). Returns whether it had to copy. */
export async function moveDirectory(manifest: Manifest, from: string, to: string): Promise<boolean> {
  await rm(to, { recursive: true, force: true }) // a leftover of an earlier attempt: never whole
  await mkdir(dirname(to), { recursive: true })
  if (await renamed(from, to)) return false
  const tmp = `${to}${MOVING}`
  await rm(tmp, { recursive: true, force: true })
  for (let i = 0; i < manifest.files.length; i++) await copyDurably(filePath(from, manifest, i), filePath(tmp, manifest, i))
  await rename(tmp, to)
  await syncDirectory(dirname(to))
  return true
}

/**
 * Moves each of the package's files from `from` into `to`, replacing files of the same
 * name and leaving everything else in `to` alone (a fetch's --out may hold its data
 * directory). A file no longer under `from` was moved by an earlier attempt. Returns
 * whether any had to be copied.
 */
export async function moveFiles(manifest: Manifest, from: string, to: string): Promise<boolean> {
  let copied = false
  for (let i = 0; i < manifest.files.length; i++) {
    const src = filePath(from, manifest, i)
    const dst = filePath(to, manifest, i)
    await mkdir(dirname(dst), { recursive: true })
    try {
      if (await renamed(src, dst)) continue
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue
      throw err
    }
    await copyDurably(src, `${dst}${MOVING}`)
    await rename(`${dst}${MOVING}`, dst)
    await rm(src)
    copied = true
  }
  await syncDirectory(to)
  return copied
}

/** rename(2); false where it would cross file systems. */
async function renamed(from: string, to: string): Promise<boolean> {
  try {
    await rename(from, to)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EXDEV') return false
    throw err
  }
}

/** Copies a file and flushes it to disk before it is renamed anywhere. */
async function copyDurably(from: string, to: string): Promise<void> {
  await mkdir(dirname(to), { recursive: true })
  await copyFile(from, to, constants.COPYFILE_FICLONE)
  const fh = await open(to, 'r+')
  try {
    await fh.datasync()
  } finally {
    await fh.close()
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const fh = await open(dir, 'r').catch(() => undefined)
  if (fh === undefined) return
  try {
    await fh.sync().catch(() => {}) // some file systems refuse fsync on a directory: the rename stands
  } finally {
    await fh.close()
  }
}
