import { createServer, connect, type AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { describe, expect, it } from 'vitest'
import { createThrottleStream, TokenBucket } from '../../bandwidth/index.ts'

describe('throttling over real loopback TCP', () => {
  it('holds a transfer to its rate (generous bounds: this is not a timing test)', async () => {
    const total = 1_000_000
    let received = 0
    const server = createServer((socket) => socket.on('data', (d: Buffer) => { received += d.length }))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    try {
      const socket = connect({ host: '127.0.0.1', port })
      await new Promise<void>((resolve) => socket.once('connect', resolve))
      const bucket = new TokenBucket({ rateBytesPerSec: 2_000_000, capacityBytes: 64 * 1024 })
      const started = performance.now()
      const source = Readable.from((function* () { for (let i = 0; i < total / 10_000; i++) yield Buffer.alloc(10_000, i) })())
      await pipeline(source, createThrottleStream(bucket, { sliceBytes: 16 * 1024 }), socket)
      const seconds = (performance.now() - started) / 1000
      // 1 MB at 2 MB/s from an empty bucket takes 0.5 s; unthrottled loopback takes ~1 ms.
      expect(seconds).toBeGreaterThan(0.4)
      expect(seconds).toBeLessThan(10)
      for (let i = 0; i < 100 && received < total; i++) await new Promise((r) => setTimeout(r, 20))
      expect(received).toBe(total)
    } finally {
      server.close()
    }
  })
})
