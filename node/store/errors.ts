import { PeerstageError } from '../../common/index.ts'

export const StoreErrorCodes = {
  /** The disk is full (or over quota): the piece was not written and is not marked present. */
  DISK_FULL: 'PEERSTAGE_STORE_DISK_FULL',
  /** Writing or reading package data failed for another reason (permissions, I/O error). */
  IO: 'PEERSTAGE_STORE_IO',
} as const

/** A file system failure as the store reports it: a full disk says so (and that nothing was lost). */
export function ioError(err: unknown, what: string): PeerstageError {
  const code = (err as NodeJS.ErrnoException).code
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new PeerstageError(StoreErrorCodes.DISK_FULL, `${what}: the disk is full (${code}); free space and run again, nothing was lost`, { cause: err })
  }
  return new PeerstageError(StoreErrorCodes.IO, `${what}: ${(err as Error).message}`, { cause: err })
}
