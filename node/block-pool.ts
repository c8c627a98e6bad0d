/**
 * Block buffers, both ways. Frames assembled from several arrivals (a 128 KiB block comes in
 * ~8 TLS records) are handed back once their bytes are on disk; blocks read to be served, once
 * the socket has taken them (the bulk channel; a block sent down a libp2p stream is left to
 * the GC). A fresh buffer per block costs more than its copy: every one is new memory to
 * fault in (64 MiB of blocks spent ~0.24 CPU-s in page faults at 25 MB/s here), and the
 * garbage collector frees them only in its own time.
 *
 * Every pooled buffer is one full block frame long; a shorter frame is a view of its front.
 * A piece's last block is shorter than the others and, pieces being content-defined, of a
 * length of its own: kept by exact length, those were never asked for again and piled up
 * (260 MiB held after 8 GiB fetched).
 *
 * Only buffers this pool made go back into it (a WeakSet of their ArrayBuffers), so giving
 * back any other block is harmless. Whoever gives one back must hold no view of it after.
 */

/** Largest block a peer may request or send. */
export const MAX_BLOCK_BYTES = 128 * 1024
/** A piece message carrying the largest block: <u32 length><id><u32 index><u32 begin><block>. */
const BLOCK_FRAME_BYTES = 13 + MAX_BLOCK_BYTES
/** Frames shorter than this (requests, haves, tiny blocks) are not worth a whole block's memory. */
const MIN_POOLED_BYTES = 16 * 1024
/** Bytes kept for reuse at most: a transfer's working set; beyond it buffers go to the GC. */
export const MAX_FREE_BYTES = 64 * BLOCK_FRAME_BYTES

const POOLED = new WeakSet<ArrayBufferLike>()
const free: ArrayBuffer[] = []

/** A buffer of `size` bytes (contents undefined), in a block buffer given back when there is one. */
export function takeFrame(size: number): Buffer {
  if (size < MIN_POOLED_BYTES || size > BLOCK_FRAME_BYTES) return Buffer.allocUnsafeSlow(size)
  const reused = free.pop()
  if (reused !== undefined) return Buffer.from(reused, 0, size)
  const buf = Buffer.allocUnsafeSlow(BLOCK_FRAME_BYTES)
  POOLED.add(buf.buffer)
  return buf.subarray(0, size)
}

/** Gives back the frames these views lie in (views of other memory are ignored). */
export function giveBackFrames(views: Iterable<Uint8Array>): void {
  for (const v of views) {
    const ab = v.buffer
    if (!POOLED.has(ab) || free.length >= MAX_FREE_BYTES / BLOCK_FRAME_BYTES || free.includes(ab as ArrayBuffer)) continue
    free.push(ab as ArrayBuffer)
  }
}

/** Bytes the pool holds for reuse now. */
export function pooledFreeBytes(): number {
  return free.length * BLOCK_FRAME_BYTES
}
