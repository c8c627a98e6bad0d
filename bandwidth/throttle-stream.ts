import { Transform } from 'node:stream'
import type { Limiter } from './token-bucket.ts'

export interface ThrottleOptions {
  /**
   * Largest slice taken from the limiter at once; larger chunks are cut. Keep it at most a
   * quarter of the bucket capacity. @default 64 KiB
   */
  sliceBytes?: number
  signal?: AbortSignal
}

/**
 * Yields the source's chunks no faster than the limiter allows. It pulls the next chunk
 * only when the previous one has passed, so it never holds more than one chunk.
 */
export async function* throttle(source: AsyncIterable<Uint8Array>, limiter: Limiter, options: ThrottleOptions = {}): AsyncGenerator<Uint8Array> {
  const slice = options.sliceBytes ?? 64 * 1024
  for await (const chunk of source) {
    for (let at = 0; at < chunk.length; at += slice) {
      const part = chunk.subarray(at, Math.min(chunk.length, at + slice))
      await limiter.take(part.length, options.signal)
      yield part
    }
  }
}

/**
 * A Node Transform that lets bytes through no faster than the limiter allows. It does not
 * accept the next chunk until the current one has passed, so backpressure reaches the
 * writer and nothing piles up inside.
 */
export function createThrottleStream(limiter: Limiter, options: ThrottleOptions = {}): Transform {
  const slice = options.sliceBytes ?? 64 * 1024
  return new Transform({
    highWaterMark: slice,
    transform(chunk: Buffer, _enc, callback) {
      void (async () => {
        for (let at = 0; at < chunk.length; at += slice) {
          const part = chunk.subarray(at, Math.min(chunk.length, at + slice))
          await limiter.take(part.length, options.signal)
          this.push(part)
        }
      })().then(() => callback(), callback)
    },
  })
}
