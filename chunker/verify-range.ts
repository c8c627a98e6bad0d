import { hash } from 'node:crypto'
import { closeSync, openSync, readSync } from 'node:fs'
import { HASH_BYTES } from './scan.ts'

export interface VerifyRangeRequest {
  path: string
  /** File offset of the first chunk. */
  start: number
  lengths: Uint32Array
  /** Expected SHA-256 digests, back to back. */
  hashes: Uint8Array
}

/**
 * Hashes consecutive chunks of a file and returns the indexes (within the request) of the
 * chunks that do not match, including those the file is too short to hold.
 */
export function verifyRange(buffer: Buffer, req: VerifyRangeRequest): number[] {
  const bad: number[] = []
  let fd: number
  try {
    fd = openSync(req.path, 'r')
  } catch {
    // Gone or unreadable since the caller looked: every chunk is missing.
    return Array.from(req.lengths, (_, i) => i)
  }
  try {
    let i = 0
    let pos = req.start
    while (i < req.lengths.length) {
      // Read as many whole chunks as fit in the buffer at once.
      let batch = 0
      let j = i
      while (j < req.lengths.length && batch + req.lengths[j] <= buffer.length) batch += req.lengths[j++]
      let got = 0
      while (got < batch) {
        const n = readSync(fd, buffer, got, batch - got, pos + got)
        if (n === 0) break
        got += n
      }
      let at = 0
      for (; i < j; i++) {
        const len = req.lengths[i]
        const expected = req.hashes.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES)
        if (at + len > got || !hash('sha256', buffer.subarray(at, at + len), 'buffer').equals(expected)) bad.push(i)
        at += len
      }
      pos += batch
    }
  } finally {
    closeSync(fd)
  }
  return bad
}
