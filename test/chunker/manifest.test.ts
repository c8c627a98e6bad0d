import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { canonicalJson, parseManifest, publisherOf } from '../../chunker/index.ts'
import { signBytes } from '../../chunker/keys.ts'
import { jsonOf, packSample, resigned, sampleTree, testKey } from '../helpers/packages.ts'
import { tempDir } from '../helpers/tmp.ts'

async function sample() {
  const dir = tempDir()
  sampleTree(dir)
  const result = await packSample(dir)
  return { dir, result, json: jsonOf(result) }
}

function rejects(text: string, code: string, message?: RegExp, trusted?: string[]) {
  let caught: unknown
  try {
    parseManifest(text, trusted === undefined ? {} : { trusted })
  } catch (err) {
    caught = err
  }
  expect(caught, 'expected a rejection').toMatchObject({ code })
  if (message) expect((caught as Error).message).toMatch(message)
}

describe('manifest', () => {
  it('round-trips: parse(canonical) gives the same manifest and package id', async () => {
    const { result } = await sample()
    const parsed = parseManifest(result.canonical)
    expect(parsed.packageId).toBe(result.packageId)
    expect(parsed.packageId).toBe(createHash('sha256').update(result.canonical).digest('hex'))
    expect(parsed.canonical).toBe(result.canonical)
    expect(parsed.manifest.files.map((f) => f.path)).toEqual(['drivers/empty.cat', 'drivers/net/e1000.inf', 'drivers/net/e1000.sys', 'install.wim', 'setup.cmd'])
    expect(Array.from(parsed.manifest.chunks.sizes)).toEqual(Array.from(result.manifest.chunks.sizes))
    expect(parsed.manifest.programs).toEqual([{ name: 'install', command: 'setup.cmd', args: ['/unattend'] }])
  })

  it('has the same id whatever the key order or white space of the file', async () => {
    const { result, json } = await sample()
    const pretty = JSON.stringify(Object.fromEntries(Object.entries(json).reverse()), null, 2)
    expect(parseManifest(pretty).packageId).toBe(result.packageId)
  })

  it('derives pieces of 2 MiB and more from whole chunks of one file', async () => {
    const { result } = await sample()
    const { pieces, files } = result.manifest
    const wim = files.findIndex((f) => f.path === 'install.wim')
    const wimPieces = pieces.filter((p) => p.file === wim)
    expect(wimPieces.length).toBe(2)
    expect(wimPieces[0]!.length).toBeGreaterThanOrEqual(2 * 1024 * 1024)
    expect(wimPieces.reduce((n, p) => n + p.length, 0)).toBe(files[wim]!.size)
    expect(pieces.some((p) => p.file === files.findIndex((f) => f.path === 'drivers/empty.cat'))).toBe(false)
  })

  it('accepts a trusted publisher and rejects an untrusted one', async () => {
    const { result } = await sample()
    expect(parseManifest(result.canonical, { trusted: [publisherOf(result.key)] }).packageId).toBe(result.packageId)
    rejects(result.canonical, 'PEERSTAGE_CHUNKER_MANIFEST_UNTRUSTED', /not a trusted publisher/, [publisherOf(testKey())])
  })

  it('rejects a manifest altered after signing, or signed by another key than it names', async () => {
    const { result, json } = await sample()
    rejects(result.canonical.replace('"24H2"', '"24H3"'), 'PEERSTAGE_CHUNKER_MANIFEST_BAD_SIGNATURE', /altered after signing/)
    const other = testKey()
    const forged = { ...json, signature: signBytes(other, Buffer.from(canonicalJson({ ...json, signature: undefined }))) }
    rejects(canonicalJson(forged), 'PEERSTAGE_CHUNKER_MANIFEST_BAD_SIGNATURE')
  })

  it('takes the signature in its one base64 spelling only: another would give the same package a second id (found by the fuzzer)', async () => {
    const { result, json } = await sample()
    const signature = json.signature as string
    expect(signature).toMatch(/==$/)
    // A space, no padding, and other bits in the padding of the last character: the same 64 bytes.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
    const last = signature.length - 3
    const respelled = [signature.replace('==', ' =='), signature.slice(0, -2), `${signature.slice(0, last)}${alphabet[alphabet.indexOf(signature[last]!) ^ 1]}==`]
    for (const other of respelled) {
      expect(Buffer.from(other, 'base64').equals(Buffer.from(signature, 'base64'))).toBe(true)
      rejects(canonicalJson({ ...json, signature: other }), 'PEERSTAGE_CHUNKER_MANIFEST_BAD_SIGNATURE')
    }
    expect(parseManifest(result.canonical).packageId).toBe(result.packageId)
  })

  it('rejects a truncated file and a file that is not JSON', async () => {
    const { result } = await sample()
    rejects(result.canonical.slice(0, 500), 'PEERSTAGE_CHUNKER_MANIFEST_TRUNCATED', /truncated/)
    rejects('', 'PEERSTAGE_CHUNKER_MANIFEST_TRUNCATED')
    rejects('<html>not found</html>', 'PEERSTAGE_CHUNKER_MANIFEST_NOT_JSON', /not JSON/)
  })

  it('rejects an unknown format version, and JSON that is no manifest', async () => {
    const { json, result } = await sample()
    rejects(resigned(json, result.key, (m) => { m.format = 2 }), 'PEERSTAGE_CHUNKER_MANIFEST_FORMAT', /format 2.*reads format 1/)
    rejects('[1,2,3]', 'PEERSTAGE_CHUNKER_MANIFEST_FORMAT', /not a peerstage manifest/)
    rejects('{"hello":"world"}', 'PEERSTAGE_CHUNKER_MANIFEST_FORMAT')
  })

  it('rejects missing, unknown and mistyped fields, naming them', async () => {
    const { json, result } = await sample()
    rejects(resigned(json, result.key, (m) => { delete m.pieces }), 'PEERSTAGE_CHUNKER_MANIFEST_SCHEMA', /manifest.pieces is missing/)
    rejects(resigned(json, result.key, (m) => { m.extra = 1 }), 'PEERSTAGE_CHUNKER_MANIFEST_SCHEMA', /manifest.extra is not a known field/)
    rejects(resigned(json, result.key, (m) => { m.files[1].size = '12' }), 'PEERSTAGE_CHUNKER_MANIFEST_SCHEMA', /files\[1\].size must be an integer/)
    rejects(resigned(json, result.key, (m) => { m.programs[0].args = 'x' }), 'PEERSTAGE_CHUNKER_MANIFEST_SCHEMA', /programs\[0\].args must be an array/)
    rejects(resigned(json, result.key, (m) => { m.chunks.hashes = `${m.chunks.hashes}!` }), 'PEERSTAGE_CHUNKER_MANIFEST_SCHEMA', /canonical base64/)
  })

  for (const [path, why] of [
    ['/etc/passwd', /is absolute/],
    ['../outside.wim', /'\.\.' segment/],
    ['drivers/../../x', /'\.\.' segment/],
    ['C:/Windows/x.sys', /drive letter/],
    ['c:x.sys', /drive letter/],
    ['drivers\\x.sys', /backslash/],
    ['a\u0000b', /NUL/],
    ['drivers//x', /empty segment/],
    ['./x', /'\.' segment/],
  ] as const) {
    it(`rejects the path ${JSON.stringify(path)}`, async () => {
      const { json, result } = await sample()
      rejects(resigned(json, result.key, (m) => { m.files[4].path = path }), 'PEERSTAGE_CHUNKER_MANIFEST_BAD_PATH', why)
    })
  }

  it('rejects duplicate paths and a file that is also a directory', async () => {
    const { json, result } = await sample()
    rejects(resigned(json, result.key, (m) => { m.files[4].path = m.files[3].path }), 'PEERSTAGE_CHUNKER_MANIFEST_DUPLICATE_PATH', /appears twice/)
    rejects(resigned(json, result.key, (m) => { m.files[0].path = 'drivers' }), 'PEERSTAGE_CHUNKER_MANIFEST_DUPLICATE_PATH', /both a file and the directory/)
  })

  it('rejects names that cannot be a directory', async () => {
    const { json, result } = await sample()
    rejects(resigned(json, result.key, (m) => { m.name = '../win' }), 'PEERSTAGE_CHUNKER_MANIFEST_BAD_NAME')
    rejects(resigned(json, result.key, (m) => { m.version = '' }), 'PEERSTAGE_CHUNKER_MANIFEST_BAD_NAME')
  })

  it('rejects sizes that do not add up', async () => {
    const { json, result } = await sample()
    const k = result.key
    rejects(resigned(json, k, (m) => { m.files[3].size += 1 }), 'PEERSTAGE_CHUNKER_MANIFEST_SIZE_MISMATCH', /chunks add up to/)
    rejects(resigned(json, k, (m) => { m.files[3].firstChunk += 1 }), 'PEERSTAGE_CHUNKER_MANIFEST_SIZE_MISMATCH', /firstChunk/)
    rejects(resigned(json, k, (m) => { m.chunks.count += 1 }), 'PEERSTAGE_CHUNKER_MANIFEST_SIZE_MISMATCH', /expected/)
    rejects(resigned(json, k, (m) => { m.pieces[1].length += 1 }), 'PEERSTAGE_CHUNKER_MANIFEST_SIZE_MISMATCH', /pieces\[1\]/)
    rejects(resigned(json, k, (m) => { m.pieces.pop() }), 'PEERSTAGE_CHUNKER_MANIFEST_SIZE_MISMATCH', /pieces end/)
    rejects(resigned(json, k, (m) => { m.pieces.splice(1, 1) }), 'PEERSTAGE_CHUNKER_MANIFEST_SIZE_MISMATCH', /does not continue/)
  })

  it('rejects numbers that are not safe integers', async () => {
    const { json, result } = await sample()
    const text = resigned(json, result.key, () => {}).replace(/"mode":(\d+)/, '"mode":$1.5')
    rejects(text, 'PEERSTAGE_CHUNKER_MANIFEST_SCHEMA', /integers/)
  })
})
