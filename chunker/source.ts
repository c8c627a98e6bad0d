import { lstatSync, readdirSync, type Stats } from 'node:fs'
import { basename, join } from 'node:path'
import { ChunkerErrorCodes as Codes, chunkerError } from './errors.ts'
import { unsafePathReason } from './paths.ts'

/** One regular file of a pack source. */
export interface SourceFile {
  /** Path inside the package (relative, POSIX). */
  path: string
  /** Where it is on disk. */
  absolute: string
  size: number
  mode: number
}

function stat(path: string): Stats {
  try {
    return lstatSync(path)
  } catch (err) {
    throw chunkerError(Codes.PACK_SOURCE_UNREADABLE, `cannot read ${path}: ${(err as Error).message}`, { cause: err, details: { path } })
  }
}

/**
 * The files of a pack source: the file itself, or every regular file below a directory,
 * sorted by package path. Symlinks and special files are refused rather than silently
 * skipped, so a package never lacks a file its publisher expected.
 */
export function listSourceFiles(source: string): SourceFile[] {
  const st = stat(source)
  if (st.isFile()) return [fileEntry(basename(source), source, st)]
  if (!st.isDirectory()) throw unsupported(source, st)
  const out: SourceFile[] = []
  const walk = (dir: string, prefix: string): void => {
    let names: string[]
    try {
      names = readdirSync(dir)
    } catch (err) {
      throw chunkerError(Codes.PACK_SOURCE_UNREADABLE, `cannot list ${dir}: ${(err as Error).message}`, { cause: err, details: { path: dir } })
    }
    for (const name of names) {
      const absolute = join(dir, name)
      const path = prefix === '' ? name : `${prefix}/${name}`
      const s = stat(absolute)
      if (s.isDirectory()) walk(absolute, path)
      else if (s.isFile()) out.push(fileEntry(path, absolute, s))
      else throw unsupported(absolute, s)
    }
  }
  walk(source, '')
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
}

function fileEntry(path: string, absolute: string, st: Stats): SourceFile {
  const reason = unsafePathReason(path)
  if (reason !== undefined) throw chunkerError(Codes.PACK_UNSUPPORTED_FILE, `${absolute}: its package path ${JSON.stringify(path)} ${reason}`, { details: { path: absolute } })
  return { path, absolute, size: st.size, mode: st.mode & 0o777 }
}

function unsupported(path: string, st: Stats): Error {
  const kind = st.isSymbolicLink() ? 'a symbolic link' : 'not a regular file or directory'
  return chunkerError(Codes.PACK_UNSUPPORTED_FILE, `${path} is ${kind}; packages hold regular files only (copy the target in instead)`, { details: { path } })
}
