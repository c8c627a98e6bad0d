import { createHash, verify } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  canonicalJson, chunkHash, derivePieces, HASH_BYTES, manifestToJson, parseManifest, publisherOf, signingPayload, signManifest, type Program,
} from '../../chunker/index.ts'
import { publisherKey } from '../../chunker/keys.ts'
import { payloadOfCanonical } from '../../chunker/manifest.ts'
import { resigned, testKey } from '../helpers/packages.ts'
import { syntheticManifest } from '../helpers/synthetic-manifest.ts'

/** The definition canonical.ts must keep to: sorted keys, JSON.stringify for every string. */
function reference(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(reference).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>
    return `{${Object.keys(obj).filter((k) => obj[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${reference(obj[k])}`).join(',')}}`
  }
  return JSON.stringify(value)
}

/** Program arguments that look like the members the signing payload is cut at, and text JSON escapes. */
const TRICKY: Program[] = [{
  name: 'install', command: 'setup.cmd',
  args: [',"signature":"AAAA"', ',"version":"2"', '"quoted" \\ back\\slash', 'tab\there', 'é ünï 𝄞 \u2028', '\ud800 lone surrogate'],
}]

describe('big manifests: one serialization, a compact table (issue 19)', () => {
  it('canonical JSON is what sorted keys and JSON.stringify give, for any JSON value', () => {
    const json = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, fc.string({ unit: 'binary' }), fc.string(), fc.integer(), fc.boolean(), fc.constant(null),
        fc.array(tie('value')), fc.dictionary(fc.string({ unit: 'binary' }), tie('value'))),
    })).value
    fc.assert(fc.property(json, (v) => canonicalJson(v) === reference(v)), { numRuns: 500 })
  })

  it('signs the canonical form without its signature: same bytes as serializing it whole, even with arguments that mimic its members', () => {
    const key = testKey()
    const { manifest, canonical, packageId } = signManifest(syntheticManifest(3000, 3, TRICKY), key)
    const json = manifestToJson(manifest)
    expect(canonical).toBe(reference(json))
    expect(packageId).toBe(createHash('sha256').update(canonical).digest('hex'))
    const payload = payloadOfCanonical(canonical, manifest.signature)!
    expect(payload.equals(signingPayload(json))).toBe(true)
    expect(payload.equals(Buffer.from(reference({ ...json, signature: undefined })))).toBe(true)
    expect(verify(null, payload, publisherKey(publisherOf(key)), Buffer.from(manifest.signature, 'base64'))).toBe(true)
    expect(payloadOfCanonical(canonical, 'not-its-signature')).toBeUndefined()
    expect(parseManifest(canonical, { trusted: [publisherOf(key)] }).packageId).toBe(packageId)
  })

  it('parses 50,000 chunks into the same table: hashes and sizes byte for byte, pieces as chunk ranges tiling each file', () => {
    const unsigned = syntheticManifest(50_000, 4)
    const signed = signManifest(unsigned, testKey())
    const { manifest, packageId, canonical } = parseManifest(signed.canonical)
    expect(packageId).toBe(signed.packageId)
    expect(canonical).toBe(signed.canonical)
    const { chunks } = manifest
    expect(chunks.count).toBe(50_000)
    expect(chunks.hashes).toBeInstanceOf(Uint8Array)
    expect(chunks.hashes.byteLength).toBe(50_000 * HASH_BYTES)
    expect(Buffer.from(chunks.hashes).equals(Buffer.from(unsigned.chunks.hashes))).toBe(true)
    expect(chunks.sizes).toBeInstanceOf(Uint32Array)
    expect(Buffer.from(chunks.sizes.buffer, chunks.sizes.byteOffset, chunks.sizes.byteLength).equals(Buffer.from(unsigned.chunks.sizes.buffer))).toBe(true)
    for (const i of [0, 1, 12_345, 49_999]) {
      expect(chunkHash(chunks, i)).toBe(Buffer.from(unsigned.chunks.hashes.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES)).toString('hex'))
    }
    expect(manifest.pieces).toEqual(derivePieces(manifest.files, chunks.sizes))
    manifest.files.forEach((f, i) => {
      const own = manifest.pieces.filter((p) => p.file === i)
      expect(own[0]!.firstChunk).toBe(f.firstChunk)
      expect(own.reduce((n, p) => n + p.chunkCount, 0)).toBe(f.chunkCount)
      expect(own.reduce((n, p) => n + p.length, 0)).toBe(f.size)
      own.forEach((p, k) => {
        let length = 0
        for (let c = p.firstChunk; c < p.firstChunk + p.chunkCount; c++) length += chunks.sizes[c]!
        expect(p.length).toBe(length)
        if (k > 0) expect(p.firstChunk).toBe(own[k - 1]!.firstChunk + own[k - 1]!.chunkCount)
      })
    })
  })

  it('accepts only canonical base64 in the chunk table: no white space, no stray padding, no bits past the last byte', () => {
    const key = testKey()
    const json = manifestToJson(signManifest(syntheticManifest(7, 1), key).manifest) as Record<string, any>
    const hashes = json.chunks.hashes as string // 7 × 32 bytes: one '=' of padding
    expect(hashes.endsWith('=') && !hashes.endsWith('==')).toBe(true)
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
    const spareBitSet = alphabet[alphabet.indexOf(hashes.at(-2)!) | 1]! // the last character's low 2 bits are spare
    const notCanonical = [
      `${hashes.slice(0, 8)}\n${hashes.slice(8)}`,
      `${hashes.slice(0, 8)}=${hashes.slice(9)}`,
      `${hashes.slice(0, -2)}${spareBitSet}=`,
      hashes.replace(/\+/g, '-').replace(/\//g, '_').replace(/=$/, ''),
    ]
    expect(Buffer.from(notCanonical[2]!, 'base64').equals(Buffer.from(hashes, 'base64'))).toBe(true) // decodes the same: only the text is wrong
    for (const bad of notCanonical) {
      if (bad === hashes) continue
      let caught: unknown
      try {
        parseManifest(resigned(json, key, (m) => { m.chunks.hashes = bad }))
      } catch (err) {
        caught = err
      }
      expect(caught, JSON.stringify(bad.slice(-12))).toMatchObject({ code: 'PEERSTAGE_CHUNKER_MANIFEST_SCHEMA' })
    }
    expect(parseManifest(resigned(json, key, () => {})).manifest.chunks.count).toBe(7)
  })
})
