import { hash } from 'node:crypto'
import { closeSync, openSync, readSync } from 'node:fs'
import type { Cutter } from './fastcdc.ts'

/** SHA-256 digest length. */
export const HASH_BYTES = 32

/** Chunks found in one range of a file, in order. */
export interface ScanResult {
  /** File offset of the first chunk. */
  start: number
  lengths: Uint32Array
  /** `lengths.length` SHA-256 digests, back to back. */
  hashes: Uint8Array
}

export interface ScanRequest {
  path: string
  /** The file's size when the pack started; a file that changes under us is an error. */
  fileSize: number
  /** Chunk from here, taking it as a chunk boundary. */
  start: number
  /** Stop after the first chunk that ends at or beyond this offset. */
  stop: number
}

/**
 * Reads [start, stop) of a file (and up to one chunk more) through the cutter's buffer,
 * cutting and hashing as it goes: memory stays at one buffer whatever the file size.
 */
export function scanRange(cutter: Cutter, req: ScanRequest): ScanResult {
  const { data } = cutter
  const max = cutter.params.maxSize
  const lengths: number[] = []
  const digests: Buffer[] = []
  const fd = openSync(req.path, 'r')
  try {
    let bufStart = req.start // file offset of data[0]
    let bufLen = 0
    let pos = req.start
    while (pos < req.fileSize && pos < req.stop) {
      const need = Math.min(max, req.fileSize - pos)
      if (pos + need > bufStart + bufLen) {
        // Keep the unconsumed tail (< one chunk), then fill the rest of the buffer.
        const keep = bufStart + bufLen - pos
        data.copyWithin(0, pos - bufStart, bufLen)
        bufStart = pos
        bufLen = keep
        const want = Math.min(data.length - bufLen, req.fileSize - (bufStart + bufLen))
        while (bufLen < keep + want) {
          const n = readSync(fd, data, bufLen, keep + want - bufLen, bufStart + bufLen)
          if (n === 0) throw new Error(`${req.path} is shorter than ${req.fileSize} bytes: it changed while being read`)
          bufLen += n
        }
      }
      const at = pos - bufStart
      const len = cutter.cut(at, req.fileSize - pos)
      lengths.push(len)
      digests.push(hash('sha256', data.subarray(at, at + len), 'buffer'))
      pos += len
    }
  } finally {
    closeSync(fd)
  }
  return { start: req.start, lengths: Uint32Array.from(lengths), hashes: Buffer.concat(digests) }
}
