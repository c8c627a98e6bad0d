import type { ChunkingParams } from './fastcdc.ts'
import type { HashPool } from './pool.ts'
import { HASH_BYTES, type ScanResult } from './scan.ts'

/** Bytes one job cuts and hashes; a multiple of any maxSize, so runs of zeros line up. */
export const SEGMENT_BYTES = 64 * 1024 * 1024

/** The chunks of one file, in order. */
export interface FileChunks {
  lengths: Uint32Array
  /** SHA-256 digests, back to back. */
  hashes: Uint8Array
}

export interface ChunkFileOptions {
  /** Called with the bytes of the file settled so far. */
  onProgress?: (doneBytes: number) => void
  /** @default SEGMENT_BYTES */
  segmentBytes?: number
}

/**
 * Cuts and hashes one file on all the pool's threads at once.
 *
 * FastCDC is sequential: a cut depends on where the previous one was. So each segment after
 * the first is cut speculatively as if a chunk started at its first byte, and the segment
 * before it cuts on past its end ("overrun") until it reaches a cut the speculative run also
 * made; from that cut on both runs agree, byte for byte. Content resynchronises within a
 * chunk or two, so the waste is tiny; if it does not within the overrun (long runs with no
 * hash cut, such as zeros at an odd offset), that segment is cut again from the last true
 * boundary, which is exact and merely slower.
 */
export async function chunkFile(pool: HashPool, params: ChunkingParams, path: string, fileSize: number,
  options: ChunkFileOptions = {}): Promise<FileChunks> {
  const segment = options.segmentBytes ?? SEGMENT_BYTES
  const overrun = 8 * params.maxSize
  const segments = Math.max(1, Math.ceil(fileSize / segment))
  const stopOf = (i: number): number => Math.min(fileSize, (i + 1) * segment + (i + 1 < segments ? overrun : 0))
  const scan = (start: number, i: number): Promise<ScanResult> =>
    pool.scan(params, { path, fileSize, start, stop: stopOf(i) })

  // Keep the pool busy a little ahead of the merge, but no further: memory stays flat.
  const lookahead = pool.threads + 1
  const inflight = new Map<number, Promise<ScanResult>>()
  let submitted = 0
  const request = (i: number): Promise<ScanResult> => {
    while (submitted < segments && submitted <= i + lookahead) {
      const p = scan(submitted * segment, submitted)
      p.catch(() => {}) // awaited below in order; do not let a later failure go unhandled
      inflight.set(submitted++, p)
    }
    const p = inflight.get(i)!
    inflight.delete(i)
    return p
  }

  const out = new ChunkCollector()
  let current = await request(0)
  let idx = 0 // next chunk of `current` to accept
  let pos = current.start // end of the accepted chunks: always a true boundary
  for (let i = 0; i < segments; i++) {
    if (i === segments - 1) {
      out.addFrom(current, idx, current.lengths.length)
      break
    }
    const next = await request(i + 1)
    const nextStarts = startsOf(next)
    let synced = false
    let end = idx
    for (;;) {
      if (pos >= next.start && nextStarts.has(pos)) {
        synced = true
        break
      }
      if (end >= current.lengths.length) break
      pos += current.lengths[end++]
    }
    out.addFrom(current, idx, end)
    if (synced) {
      idx = nextStarts.get(pos)!
      current = next
    } else {
      current = await scan(pos, i + 1) // exact, from the last true boundary
      idx = 0
    }
    options.onProgress?.(pos)
  }
  options.onProgress?.(fileSize)
  return out.finish()
}

/** Offset of each chunk start in a scan → index of that chunk. */
function startsOf(scan: ScanResult): Map<number, number> {
  const starts = new Map<number, number>()
  let pos = scan.start
  for (let i = 0; i < scan.lengths.length; i++) {
    starts.set(pos, i)
    pos += scan.lengths[i]
  }
  return starts
}

class ChunkCollector {
  private readonly lengths: Uint32Array[] = []
  private readonly hashes: Uint8Array[] = []

  addFrom(scan: ScanResult, from: number, to: number): void {
    if (to <= from) return
    this.lengths.push(scan.lengths.subarray(from, to))
    this.hashes.push(scan.hashes.subarray(from * HASH_BYTES, to * HASH_BYTES))
  }

  finish(): FileChunks {
    const count = this.lengths.reduce((n, l) => n + l.length, 0)
    const lengths = new Uint32Array(count)
    const hashes = new Uint8Array(count * HASH_BYTES)
    let at = 0
    for (let k = 0; k < this.lengths.length; k++) {
      lengths.set(this.lengths[k], at)
      hashes.set(this.hashes[k], at * HASH_BYTES)
      at += this.lengths[k].length
    }
    return { lengths, hashes }
  }
}
