import { createHash } from 'node:crypto'
import { closeSync, openSync, readSync, writeFileSync, writeSync, ftruncateSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { chunkBuffer, chunkFile, DEFAULT_CHUNKING, HashPool, HASH_BYTES } from '../../chunker/index.ts'
import { pseudoRandomBytes, tempDir } from '../helpers/tmp.ts'

const pool = new HashPool({ threads: 2 })
afterAll(() => pool.close())

function hashesOf(data: Uint8Array, lengths: number[]): Buffer {
  let offset = 0
  return Buffer.concat(lengths.map((len) => {
    const h = createHash('sha256').update(data.subarray(offset, offset + len)).digest()
    offset += len
    return h
  }))
}

describe('chunkFile (parallel speculative segments)', () => {
  it('finds exactly the sequential cuts and hashes, whatever the segment size', async () => {
    const dir = tempDir()
    // Random data with runs of zeros at odd offsets: the zeros defeat resynchronisation,
    // so both the fast path and the re-cut fallback are taken.
    const data = Buffer.concat([pseudoRandomBytes(5_000_003, 1), Buffer.alloc(3_000_001), pseudoRandomBytes(4_000_000, 2), Buffer.alloc(999_999), pseudoRandomBytes(777, 3)])
    const path = join(dir, 'mixed.bin')
    writeFileSync(path, data)
    const expected = chunkBuffer(DEFAULT_CHUNKING, data)
    for (const segmentBytes of [1 << 20, 3 << 20, 64 << 20]) {
      const progress: number[] = []
      const got = await chunkFile(pool, DEFAULT_CHUNKING, path, data.length, { segmentBytes, onProgress: (d) => progress.push(d) })
      expect(Array.from(got.lengths)).toEqual(expected)
      expect(Buffer.from(got.hashes)).toEqual(hashesOf(data, expected))
      expect(progress.at(-1)).toBe(data.length)
      expect(progress).toEqual([...progress].sort((a, b) => a - b))
    }
  })

  it('handles offsets beyond 4 GiB (sparse file)', async () => {
    const dir = tempDir()
    const path = join(dir, 'sparse.vhd')
    const tail = pseudoRandomBytes(3_000_000, 5)
    const size = 4 * 1024 ** 3 + 1_234_567
    const fd = openSync(path, 'w')
    ftruncateSync(fd, size - tail.length)
    writeSync(fd, tail, 0, tail.length, size - tail.length)
    closeSync(fd)

    const got = await chunkFile(pool, DEFAULT_CHUNKING, path, size)
    const lengths = Array.from(got.lengths)
    expect(lengths.reduce((a, b) => a + b, 0)).toBe(size)
    // Check the chunks past 4 GiB against node:crypto over the same ranges read back.
    const rd = openSync(path, 'r')
    let offset = 0
    let checked = 0
    for (let i = 0; i < lengths.length; i++) {
      if (offset >= 2 ** 32) {
        const buf = Buffer.alloc(lengths[i]!)
        readSync(rd, buf, 0, buf.length, offset)
        expect(Buffer.from(got.hashes.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES)).toString('hex'))
          .toBe(createHash('sha256').update(buf).digest('hex'))
        checked++
      }
      offset += lengths[i]!
    }
    closeSync(rd)
    expect(checked).toBeGreaterThan(10)
  })
})
