import { join } from 'node:path'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { canonicalJson, ChunkerErrorCodes, parseManifest, publisherOf, signingPayload, unsafePathReason, type PackResult } from '../../chunker/index.ts'
import { signBytes } from '../../chunker/keys.ts'
import { jsonOf, packSample, testKey, writeTree } from '../helpers/packages.ts'
import { pseudoRandomBytes } from '../helpers/tmp.ts'
import { fuzz, fuzzTimeoutMs, mutatedMany, nastyString, resultOrCode, fileTempDir } from './fuzz.ts'

const CODES = Object.values(ChunkerErrorCodes).filter((c) => c.startsWith('PEERSTAGE_CHUNKER_MANIFEST_'))
const key = testKey()
const publisher = publisherOf(key)
const dir = fileTempDir()
let packed: PackResult
let valid: Record<string, any>

beforeAll(async () => {
  const src = join(dir, 'src')
  // A few files, nested, one empty, one of several chunks: every table has entries to break.
  writeTree(src, { 'install.wim': pseudoRandomBytes(300_000, 7), 'drivers/net/e1000.inf': '[Version]\n', 'drivers/empty.cat': '', 'setup.cmd': '@echo off\r\n' })
  packed = await packSample(src, key)
  valid = jsonOf(packed) as Record<string, any>
})

/** Signs the edited manifest again, so that only the check under test can refuse it; a value canonical JSON cannot hold keeps the old signature. */
function resign(value: unknown): string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return JSON.stringify(value)
  const copy = { ...(value as Record<string, unknown>) }
  try {
    copy.signature = signBytes(key, signingPayload(copy))
    return canonicalJson(copy)
  } catch {
    return JSON.stringify(value)
  }
}

/** A chunk table of `sizes` with a hash per chunk, as base64 (or a lie about its count). */
const chunkTable = fc.record({
  sizes: fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 300_000 }), fc.constant(0xffffffff)), { maxLength: 8 }),
  count: fc.option(fc.oneof(fc.nat({ max: 16 }), fc.constantFrom(2 ** 31, 2 ** 31 + 1, 2 ** 53 - 1, -1, 1.5))),
}).map(({ sizes, count }) => {
  const buf = Buffer.alloc(sizes.length * 4)
  sizes.forEach((s, i) => buf.writeUInt32LE(s, i * 4))
  return { count: count ?? sizes.length, sizes: buf.toString('base64'), hashes: Buffer.alloc(sizes.length * 32, 7).toString('base64') }
})

const path = fc.oneof(
  fc.array(fc.oneof(fc.constantFrom('a', 'b', 'drivers', '.', '..', '', 'C:', 'c:x', 'x\\y', 'nul\0', ' ', 'é', '…'), nastyString(8)), { minLength: 1, maxLength: 4 }).map((p) => p.join('/')),
  fc.constantFrom('/etc/passwd', '../../x', 'a//b', 'a/', 'install.wim', 'setup.cmd', 'drivers', 'drivers/net'),
)

describe('fuzz: the manifest parser and verifier', () => {
  it('raw text (random, truncated, bytes flipped): a manifest or a PEERSTAGE_CHUNKER_MANIFEST_* code', async () => {
    const text = packed.canonical
    const input = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.nat({ max: text.length }).map((n) => text.slice(0, n)),
      fc.tuple(fc.nat({ max: text.length - 1 }), fc.integer({ min: 32, max: 126 })).map(([at, c]) => text.slice(0, at) + String.fromCharCode(c) + text.slice(at + 1)),
      fc.nat({ max: 5000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
      fc.nat({ max: 5000 }).map((n) => '{"format":1,"x":' + '['.repeat(n) + ']'.repeat(n) + '}'),
    )
    await fuzz('chunker.parseManifest.raw', input, async (t) => {
      const r = await resultOrCode(CODES, () => parseManifest(t))
      if (r.ok) expect(r.value.canonical).toBe(text) // only the original itself passes
    }, 400)
  }, fuzzTimeoutMs())

  it('valid manifests mutated and signed again: every rule that passes holds, or a PEERSTAGE_CHUNKER_MANIFEST_* code', async () => {
    const input = fc.oneof(
      { weight: 3, arbitrary: mutatedMany(valid, 3) },
      chunkTable.map((chunks) => ({ ...valid, chunks })),
      fc.array(path, { minLength: 1, maxLength: 4 }).map((paths) => ({ ...valid, files: valid.files.map((f: any, i: number) => ({ ...f, path: paths[i % paths.length] })) })),
      fc.array(fc.record({ file: fc.nat({ max: 4 }), offset: fc.nat({ max: 400_000 }), length: fc.nat({ max: 400_000 }), firstChunk: fc.nat({ max: 8 }), chunkCount: fc.nat({ max: 8 }) }), { maxLength: 6 }).map((pieces) => ({ ...valid, pieces })),
    )
    await fuzz('chunker.parseManifest.signed', input.map(resign), async (text) => {
      const r = await resultOrCode(CODES, () => parseManifest(text, { trusted: [publisher] }))
      if (!r.ok) return
      const { manifest, packageId, canonical } = r.value
      // What passed is what a node may act on: check the rules the parser promises.
      expect(packageId).toMatch(/^[0-9a-f]{64}$/)
      expect(parseManifest(canonical).packageId).toBe(packageId)
      for (const f of manifest.files) expect(unsafePathReason(f.path), f.path).toBeUndefined()
      expect(new Set(manifest.files.map((f) => f.path)).size).toBe(manifest.files.length)
      let chunk = 0
      for (const f of manifest.files) {
        expect(f.firstChunk).toBe(chunk)
        let sum = 0
        for (let k = f.firstChunk; k < f.firstChunk + f.chunkCount; k++) sum += manifest.chunks.sizes[k]!
        expect(sum).toBe(f.size)
        chunk += f.chunkCount
      }
      expect(chunk).toBe(manifest.chunks.count)
      expect(manifest.pieces.reduce((n, p) => n + p.length, 0)).toBe(manifest.files.reduce((n, f) => n + f.size, 0))
    }, 400)
  }, fuzzTimeoutMs())
})
