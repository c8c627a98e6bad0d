/**
 * Buffers for frames assembled from several arrivals (a 128 KiB block comes in ~8 TLS
 * records), handed back once their bytes are on disk. A fresh buffer per block costs more
 * than its copy: every one is new memory to fault in (64 MiB of blocks spent ~0.24 CPU-s in
 * page faults at 25 MB/s here), and the garbage collector frees them only in its own time.
 *
 * Only buffers this pool made go back into it (a WeakSet of their ArrayBuffers), so giving
 * back any other block is harmless. Whoever gives one back must hold no view of it after.
 */
const POOLED = new WeakSet<ArrayBufferLike>()
/** Kept for reuse at most: a transfer's working set; beyond it buffers go to the GC. */
const MAX_FREE = 64

const free = new Map<number, ArrayBuffer[]>()

/** A buffer of `size` bytes (contents undefined), reused when one of that size was given back. */
export function takeFrame(size: number): Buffer {
  const reused = free.get(size)?.pop()
  if (reused !== undefined) return Buffer.from(reused, 0, size)
  const buf = Buffer.allocUnsafeSlow(size)
  POOLED.add(buf.buffer)
  return buf
}

/** Gives back the frames these views lie in (views of other memory are ignored). */
export function giveBackFrames(views: Iterable<Uint8Array>): void {
  for (const v of views) {
    const ab = v.buffer
    if (!POOLED.has(ab)) continue
    let list = free.get(ab.byteLength)
    if (list === undefined) free.set(ab.byteLength, list = [])
    if (list.length < MAX_FREE && !list.includes(ab as ArrayBuffer)) list.push(ab as ArrayBuffer)
  }
}
