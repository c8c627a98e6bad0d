import { closeSync, ftruncateSync, mkdirSync, openSync, readSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { Manifest } from '../../chunker/index.ts'
import { localPath } from '../platform.ts'

/** Where a manifest file lives under a package root. Paths were checked on parse. */
export function filePath(root: string, manifest: Manifest, file: number): string {
  return localPath(root, manifest.files[file]!.path)
}

/**
 * Creates every file of the package at its full size (sparse where the file system
 * allows), so pieces can be written at their offsets in any order. Files already of the
 * right size are left as they are: a restart must not lose what is on disk.
 */
export function preallocate(root: string, manifest: Manifest): void {
  manifest.files.forEach((f, i) => {
    const path = filePath(root, manifest, i)
    mkdirSync(dirname(path), { recursive: true })
    let size = -1
    try {
      size = statSync(path).size
    } catch {
      // absent: created below
    }
    if (size === f.size) return
    const fd = openSync(path, size === -1 ? 'w' : 'r+')
    try {
      ftruncateSync(fd, f.size)
    } finally {
      closeSync(fd)
    }
  })
}

/** Reads exactly `length` bytes at `offset` of a file (short files give an error), into `buf` if given. */
export function readExactly(path: string, offset: number, length: number, buf: Buffer = Buffer.allocUnsafe(length)): Buffer {
  const fd = openSync(path, 'r')
  try {
    let got = 0
    while (got < length) {
      const n = readSync(fd, buf, got, length - got, offset + got)
      if (n === 0) throw new Error(`${path} ends before byte ${offset + length}`)
      got += n
    }
  } finally {
    closeSync(fd)
  }
  return buf
}

/** A file's size and modification time (ns) as the store last saw it; null when absent. */
export type FileStamp = [size: number, mtimeNs: string] | null

export function stampOf(path: string): FileStamp {
  try {
    const st = statSync(path, { bigint: true })
    return [Number(st.size), st.mtimeNs.toString()]
  } catch {
    return null
  }
}

export function sameStamp(a: FileStamp | undefined, b: FileStamp): boolean {
  return a !== undefined && a !== null && b !== null && a[0] === b[0] && a[1] === b[1]
}
