import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { chunkBuffer, DEFAULT_CHUNKING, validateChunkingParams, type ChunkingParams } from '../../chunker/index.ts'
import { compileCutWat } from '../../scripts/build-wasm.ts'
import { CUT_WASM_BASE64 } from '../../chunker/cut-wasm.ts'
import { fixturePath, referenceChunks } from '../helpers/fastcdc-reference.ts'
import { pseudoRandomBytes } from '../helpers/tmp.ts'

interface Vector { min: number, avg: number, max: number, normalization: number, chunks: Array<{ offset: number, length: number, sha256: string }> }
const vectors = (JSON.parse(readFileSync(fixturePath('vectors.json'), 'utf8')) as { vectors: Vector[] }).vectors
const image = readFileSync(fixturePath('SekienAkashita.jpg'))

const params = (min: number, avg: number, max: number, normalization: number): ChunkingParams =>
  ({ minSize: min, avgSize: avg, maxSize: max, normalization })

describe('FastCDC 2020', () => {
  it('has all five published vectors', () => {
    expect(vectors).toHaveLength(5)
    expect(new Set(vectors.map((v) => v.normalization))).toEqual(new Set([0, 1, 3]))
  })

  for (const v of vectors) {
    it(`reproduces the reference cut points and hashes for ${v.min}/${v.avg}/${v.max} level ${v.normalization}`, () => {
      const lengths = chunkBuffer(params(v.min, v.avg, v.max, v.normalization), image)
      let offset = 0
      const got = lengths.map((length) => {
        const c = { offset, length, sha256: createHash('sha256').update(image.subarray(offset, offset + length)).digest('hex') }
        offset += length
        return c
      })
      expect(got).toEqual(v.chunks)
    })
  }

  it('agrees with an independent BigInt implementation on varied data and parameters', () => {
    const data = Buffer.concat([pseudoRandomBytes(3_000_001, 7), Buffer.alloc(700_001), pseudoRandomBytes(1_000_003, 9)])
    for (const p of [params(16384, 65536, 262144, 2), params(4096, 16384, 65535, 1), params(8191, 16384, 40001, 3), params(64, 256, 1024, 0)]) {
      const input = p.maxSize <= 1024 ? data.subarray(0, 200_000) : data
      expect(chunkBuffer(p, input)).toEqual(referenceChunks(input, p.minSize, p.avgSize, p.maxSize, p.normalization))
    }
  })

  it('keeps every chunk within min and max, only the last one may be shorter', () => {
    const data = pseudoRandomBytes(8 * 1024 * 1024, 3)
    const lengths = chunkBuffer(DEFAULT_CHUNKING, data)
    expect(lengths.reduce((a, b) => a + b, 0)).toBe(data.length)
    for (const len of lengths.slice(0, -1)) {
      expect(len).toBeGreaterThanOrEqual(DEFAULT_CHUNKING.minSize)
      expect(len).toBeLessThanOrEqual(DEFAULT_CHUNKING.maxSize)
    }
    const avg = data.length / lengths.length
    expect(avg).toBeGreaterThan(32 * 1024)
    expect(avg).toBeLessThan(128 * 1024)
  })

  it('handles an empty input, one below min, exactly max, and zeros', () => {
    expect(chunkBuffer(DEFAULT_CHUNKING, new Uint8Array(0))).toEqual([])
    expect(chunkBuffer(DEFAULT_CHUNKING, pseudoRandomBytes(1000))).toEqual([1000])
    expect(chunkBuffer(DEFAULT_CHUNKING, pseudoRandomBytes(DEFAULT_CHUNKING.minSize))).toEqual([DEFAULT_CHUNKING.minSize])
    // Zeros never satisfy a mask: every chunk is cut at max.
    const max = DEFAULT_CHUNKING.maxSize
    expect(chunkBuffer(DEFAULT_CHUNKING, new Uint8Array(max))).toEqual([max])
    expect(chunkBuffer(DEFAULT_CHUNKING, new Uint8Array(3 * max + 5))).toEqual([max, max, max, 5])
  })

  it('is deterministic: the same bytes give the same cuts every time', () => {
    const data = pseudoRandomBytes(2_000_000, 11)
    expect(chunkBuffer(DEFAULT_CHUNKING, data)).toEqual(chunkBuffer(DEFAULT_CHUNKING, Buffer.from(data)))
  })

  it('rejects parameters outside the reference bounds, naming them', () => {
    expect(() => validateChunkingParams(params(16, 64, 256, 2))).toThrow(/chunking.minSize must be an integer from 64/)
    expect(() => validateChunkingParams(params(65536, 16384, 262144, 2))).toThrow(/min <= avg <= max/)
    expect(() => validateChunkingParams(params(16384, 65536, 262144, 4))).toThrow(/normalization/)
  })

  it('ships WebAssembly built from cut.wat as it is now', async () => {
    const built = await compileCutWat()
    expect(Buffer.from(built).toString('base64')).toBe(CUT_WASM_BASE64)
  })
})
