import { execFileSync } from 'node:child_process'
import { closeSync, openSync, statSync, writeSync } from 'node:fs'
import { tempDir } from './tmp.ts'

/** Overwrites bytes of a file in place. */
export function overwrite(path: string, offset: number, bytes: Uint8Array): void {
  const fd = openSync(path, 'r+')
  try {
    writeSync(fd, bytes, 0, bytes.length, offset)
  } finally {
    closeSync(fd)
  }
}

/** Puts a file's mtime back to the nanosecond (GNU touch): an edit that hides from a size-and-mtime check. */
export function setMtimeNs(path: string, ns: bigint): void {
  execFileSync('touch', ['-m', '-d', `@${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')}`, path])
  if (statSync(path, { bigint: true }).mtimeNs !== ns) throw new Error(`could not set the mtime of ${path} to the nanosecond`)
}

/** Whether this process may mount a tmpfs (a second file system for EXDEV and full-disk tests): root in most CI containers. */
export function canMountTmpfs(): boolean {
  try {
    const probe = tempDir('peerstage-mount-probe-')
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { stdio: 'ignore' })
    execFileSync('umount', [probe], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}
