import { existsSync, mkdirSync, statSync } from 'node:fs'
import { dirname } from 'node:path'

/** Why a `level` directory cannot be used; `details.problem` of the DATA_DIR errors. */
export type DataDirProblem = 'in-use' | 'not-a-directory' | 'read-only' | 'damaged' | 'unusable'

/** mkdir -p, one level at a time: a recursive mkdirSync says ENOENT on a read-only mount. */
export function makeDataDir(dir: string, parentOf?: string): void {
  if (existsSync(dir)) {
    if (statSync(dir).isDirectory()) return
    // A file in the way: the directory itself (EEXIST), or on the path to it (ENOTDIR).
    const code = parentOf === undefined ? 'EEXIST' : 'ENOTDIR'
    throw Object.assign(new Error(`${code}: mkdir '${parentOf ?? dir}'`), { code })
  }
  if (dirname(dir) !== dir) makeDataDir(dirname(dir), parentOf ?? dir)
  mkdirSync(dir)
}

/** Whose directory it is, in the words of the sentence. */
export interface DataDirOwner {
  /** 'the state directory' */
  what: string
  /** 'the tracker': given another --data */
  who: string
  /** 'a tracker': what may be running with it already */
  running: string
  /** 'that tracker': what to stop */
  stop: string
}

/** What is wrong with a directory `level` could not open, and what to do, in one sentence. */
export function diagnoseDataDir(dir: string, err: unknown, owner: DataDirOwner): { problem: DataDirProblem, message: string } {
  const { what, running, stop } = owner
  // level wraps the reason (LEVEL_LOCKED, LEVEL_CORRUPTION, an errno, …) in LEVEL_DATABASE_NOT_OPEN.
  const cause = ((err as { code?: string }).code === 'LEVEL_DATABASE_NOT_OPEN' ? (err as Error).cause : err) as (Error & { code?: string }) | undefined
  const code = cause?.code ?? ''
  const reason = /^E[A-Z]+$/.test(code) ? cause!.message.split(',')[0]! : cause?.message ?? String(err)
  const other = `give ${owner.who} another --data`
  if (code === 'LEVEL_LOCKED') return { problem: 'in-use', message: `${what} ${dir} is in use by another process (is ${running} already running with it?): stop ${stop}, or ${other}` }
  if (code === 'EEXIST') return { problem: 'not-a-directory', message: `${what} ${dir} is a file, not a directory: ${other} (a directory, or a path that does not exist yet)` }
  if (code === 'ENOTDIR') return { problem: 'not-a-directory', message: `${what} ${dir} cannot be made: part of its path is a file: ${other} (a directory, or a path that does not exist yet)` }
  if (['EROFS', 'EACCES', 'EPERM'].includes(code) || /Read-only file system|Permission denied/.test(reason)) {
    return { problem: 'read-only', message: `cannot write ${what} ${dir} (${reason}): make it writable, or ${other}` }
  }
  // A CURRENT naming no file, a MANIFEST gone: level says IO error, but the directory is what is broken.
  if (code === 'LEVEL_CORRUPTION' || (code === 'LEVEL_IO_ERROR' && /No such file or directory/.test(reason))) {
    return { problem: 'damaged', message: `${what} ${dir} is damaged (${reason}): restore it from a backup, or move it aside to start with empty state` }
  }
  return { problem: 'unusable', message: `cannot open ${what} ${dir} (${reason}): check it, or ${other}` }
}
