import { diagnoseDataDir, PeerstageError } from '../../common/index.ts'

export const StoreErrorCodes = {
  /** The disk is full (or over quota): the piece was not written and is not marked present. */
  DISK_FULL: 'PEERSTAGE_STORE_DISK_FULL',
  /** Writing or reading package data failed for another reason (permissions, I/O error). */
  IO: 'PEERSTAGE_STORE_IO',
  /**
   * The node's store (`DATA/db`) cannot be opened; `details.problem` says why: `in-use` (another
   * node runs with this --data), `damaged`, `read-only`, `not-a-directory`, `unusable`.
   */
  DATA_DIR: 'PEERSTAGE_STORE_DATA_DIR',
} as const

/** A file system failure as the store reports it: a full disk says so (and that nothing was lost). */
export function ioError(err: unknown, what: string): PeerstageError {
  const code = (err as NodeJS.ErrnoException).code
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new PeerstageError(StoreErrorCodes.DISK_FULL, `${what}: the disk is full (${code}); free space and run again, nothing was lost`, { cause: err })
  }
  return new PeerstageError(StoreErrorCodes.IO, `${what}: ${(err as Error).message}`, { cause: err })
}

/** A node's --data (or its store under it) that cannot be used: what is wrong, and what to do. */
export function dataDirError(dir: string, err: unknown): PeerstageError {
  const { problem, message } = diagnoseDataDir(dir, err, { what: 'the node\'s data directory', who: 'the node', running: 'a peerstage dp, client or fetch', stop: 'that one' })
  return new PeerstageError(StoreErrorCodes.DATA_DIR, message, { cause: err, details: { dir, problem } })
}
