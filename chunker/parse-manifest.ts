import { readFileSync } from 'node:fs'
import { canonicalJson } from './canonical.ts'
import { ChunkerErrorCodes as Codes, chunkerError } from './errors.ts'
import { validateChunkingParams } from './fastcdc.ts'
import { verifyBytes } from './keys.ts'
import {
  CHUNKING_ALGORITHM, MANIFEST_FORMAT, packageIdOf, payloadOfCanonical,
  type ChunkTable, type Manifest, type ManifestChunking, type ManifestFile, type Piece, type Program, type SignedManifest,
} from './manifest.ts'
import { assertSafeName, assertSafePath } from './paths.ts'
import { HASH_BYTES } from './scan.ts'

export interface ParseManifestOptions {
  /**
   * Publisher keys (`ed25519:<base64>`) to accept. When given, a manifest signed by any
   * other key is rejected; when absent, any valid signature is accepted.
   */
  trusted?: readonly string[]
  /** Named in error messages. @default 'manifest' */
  source?: string
}

type Json = Record<string, unknown>

const TOP_KEYS = ['format', 'name', 'version', 'createdAt', 'chunking', 'files', 'chunks', 'pieces', 'programs', 'publisher', 'signature']

/** `details.field` names the field (`manifest.files[1].size`, `publisher`) for callers to decide by. */
function schema(where: string, rule: string): never {
  throw chunkerError(Codes.MANIFEST_SCHEMA, `${where} ${rule}`, { details: { field: where } })
}

/** Optional top-level fields: absent in manifests packed before they existed. */
const OPTIONAL_TOP_KEYS = ['longPaths']

function object(v: unknown, where: string, keys: readonly string[], optional: readonly string[] = []): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) schema(where, 'must be an object')
  const o = v as Json
  for (const k of Object.keys(o)) if (!keys.includes(k) && !optional.includes(k)) schema(`${where}.${k}`, 'is not a known field')
  for (const k of keys) if (o[k] === undefined) schema(`${where}.${k}`, 'is missing')
  return o
}
function string(v: unknown, where: string): string {
  if (typeof v !== 'string') schema(where, 'must be a string')
  return v
}
function uint(v: unknown, where: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max) schema(where, `must be an integer from 0 to ${max}`)
  return v
}
function array(v: unknown, where: string): unknown[] {
  if (!Array.isArray(v)) schema(where, 'must be an array')
  return v
}
/** Base64's alphabet and its padding; anything else in the text is not canonical. */
const NOT_BASE64 = /[^A-Za-z0-9+/=]/
const BASE64_VALUE = (c: number): number => (c >= 97 ? c - 71 : c >= 65 ? c - 65 : c >= 48 ? c + 4 : c === 43 ? 62 : 63)

/**
 * Strict base64: only text that decoding and re-encoding would give back (the alphabet,
 * padding to a multiple of 4, zero bits after the last byte), checked without re-encoding
 * a manifest's megabytes.
 */
function base64(v: unknown, where: string, bytes: number): Buffer {
  const text = string(v, where)
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0
  const eq = text.indexOf('=')
  const last = text.length - pad - 1
  const spareBits = last >= 0 && pad > 0 ? BASE64_VALUE(text.charCodeAt(last)) & (pad === 1 ? 0b11 : 0b1111) : 0
  if (text.length % 4 !== 0 || (eq !== -1 && eq < text.length - pad) || spareBits !== 0 || NOT_BASE64.test(text)) schema(where, 'must be canonical base64')
  const buf = Buffer.from(text, 'base64')
  if (buf.length !== bytes) throw chunkerError(Codes.MANIFEST_SIZE_MISMATCH, `${where} holds ${buf.length} bytes, expected ${bytes}`)
  return buf
}

/** The bytes as a Uint8Array of their own: the decoded buffer itself when it owns its memory, else a copy. */
function ownBytes(buf: Buffer): Uint8Array {
  return buf.byteOffset === 0 && buf.buffer.byteLength === buf.length ? new Uint8Array(buf.buffer) : new Uint8Array(buf)
}

function parseJson(text: string, source: string): Json {
  try {
    return JSON.parse(text) as Json
  } catch (err) {
    const truncated = text.trim().length === 0 || /end of (JSON )?input|Unterminated/i.test((err as Error).message)
    if (truncated) throw chunkerError(Codes.MANIFEST_TRUNCATED, `${source} is truncated (${text.length} bytes): copy or download it again`, { cause: err })
    throw chunkerError(Codes.MANIFEST_NOT_JSON, `${source} is not JSON: ${(err as Error).message}`, { cause: err })
  }
}

/**
 * Parses and checks a manifest: format, schema, signature, trust, names and paths, and
 * that every size and range adds up. Anything wrong throws a PeerstageError with a
 * `PEERSTAGE_CHUNKER_MANIFEST_*` code; nothing half-checked is returned.
 */
export function parseManifest(text: string, options: ParseManifestOptions = {}): SignedManifest {
  const source = options.source ?? 'manifest'
  const raw = parseJson(text, source)
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || !('format' in raw)) {
    throw chunkerError(Codes.MANIFEST_FORMAT, `${source} is not a peerstage manifest (no "format" field)`)
  }
  if (raw.format !== MANIFEST_FORMAT) {
    throw chunkerError(Codes.MANIFEST_FORMAT, `${source} has format ${JSON.stringify(raw.format)}; this peerstage reads format ${MANIFEST_FORMAT} (upgrade peerstage?)`)
  }
  const top = object(raw, 'manifest', TOP_KEYS, OPTIONAL_TOP_KEYS)

  const publisher = string(top.publisher, 'publisher')
  const signature = string(top.signature, 'signature')
  let canonical: string
  try {
    canonical = canonicalJson(top)
  } catch (err) {
    schema('manifest', `must hold only strings, integers, arrays and objects (${(err as Error).message})`)
  }
  let signed: boolean
  try {
    signed = verifyBytes(publisher, payloadOfCanonical(canonical, signature) ?? schema('signature', 'is not in the canonical form'), signature)
  } catch (err) {
    schema('publisher', `is not an Ed25519 key: ${(err as Error).message}`)
  }
  if (!signed) throw chunkerError(Codes.MANIFEST_BAD_SIGNATURE, `${source}: the signature does not match its content; it was altered after signing, or signed by another key`)
  if (options.trusted !== undefined && !options.trusted.includes(publisher)) {
    throw chunkerError(Codes.MANIFEST_UNTRUSTED, `${source} is signed by ${publisher}, which is not a trusted publisher`, { details: { publisher } })
  }

  const manifest = checkContent(top, publisher, signature)
  return { manifest, packageId: packageIdOf(canonical), canonical }
}

function checkContent(top: Json, publisher: string, signature: string): Manifest {
  const name = string(top.name, 'name')
  const version = string(top.version, 'version')
  assertSafeName(name, 'name')
  assertSafeName(version, 'version')
  const createdAt = string(top.createdAt, 'createdAt')
  if (Number.isNaN(Date.parse(createdAt))) schema('createdAt', 'must be an ISO 8601 time')

  const c = object(top.chunking, 'chunking', ['algorithm', 'min', 'avg', 'max', 'normalization'])
  if (c.algorithm !== CHUNKING_ALGORITHM) schema('chunking.algorithm', `must be "${CHUNKING_ALGORITHM}"`)
  const chunking = { algorithm: CHUNKING_ALGORITHM, min: uint(c.min, 'chunking.min'), avg: uint(c.avg, 'chunking.avg'), max: uint(c.max, 'chunking.max'), normalization: uint(c.normalization, 'chunking.normalization') } satisfies ManifestChunking
  try {
    validateChunkingParams({ minSize: chunking.min, avgSize: chunking.avg, maxSize: chunking.max, normalization: chunking.normalization })
  } catch (err) {
    schema('chunking', (err as Error).message)
  }

  const t = object(top.chunks, 'chunks', ['count', 'sizes', 'hashes'])
  const count = uint(t.count, 'chunks.count', 2 ** 31)
  const sizeBytes = base64(t.sizes, 'chunks.sizes', count * 4)
  const hashes = ownBytes(base64(t.hashes, 'chunks.hashes', count * HASH_BYTES))
  const sizes = new Uint32Array(count)
  for (let i = 0; i < count; i++) {
    sizes[i] = sizeBytes.readUInt32LE(i * 4)
    if (sizes[i] === 0 || sizes[i] > chunking.max) throw chunkerError(Codes.MANIFEST_SIZE_MISMATCH, `chunk ${i} is ${sizes[i]} bytes, outside 1..${chunking.max}`)
  }
  const chunks: ChunkTable = { count, sizes, hashes }

  const files = checkFiles(array(top.files, 'files'), chunks)
  const pieces = checkPieces(array(top.pieces, 'pieces'), files, chunks)
  const programs = checkPrograms(array(top.programs, 'programs'))
  // Only `true` is written (false is the absence), so one package has one canonical form.
  if (top.longPaths !== undefined && top.longPaths !== true) schema('longPaths', 'must be true when present')
  return { format: MANIFEST_FORMAT, name, version, createdAt, chunking, files, chunks, pieces, programs, ...(top.longPaths === true && { longPaths: true as const }), publisher, signature }
}

function checkFiles(list: unknown[], chunks: ChunkTable): ManifestFile[] {
  const files: ManifestFile[] = []
  const paths = new Set<string>()
  let nextChunk = 0
  list.forEach((v, i) => {
    const w = `files[${i}]`
    const o = object(v, w, ['path', 'size', 'mode', 'firstChunk', 'chunkCount'])
    const f: ManifestFile = { path: string(o.path, `${w}.path`), size: uint(o.size, `${w}.size`), mode: uint(o.mode, `${w}.mode`, 0o7777), firstChunk: uint(o.firstChunk, `${w}.firstChunk`), chunkCount: uint(o.chunkCount, `${w}.chunkCount`) }
    assertSafePath(f.path, w)
    if (paths.has(f.path)) throw chunkerError(Codes.MANIFEST_DUPLICATE_PATH, `${w}: path ${JSON.stringify(f.path)} appears twice`)
    paths.add(f.path)
    if (f.firstChunk !== nextChunk) throw chunkerError(Codes.MANIFEST_SIZE_MISMATCH, `${w}.firstChunk is ${f.firstChunk}, expected ${nextChunk} (files take consecutive chunks)`)
    if (f.firstChunk + f.chunkCount > chunks.count) throw chunkerError(Codes.MANIFEST_SIZE_MISMATCH, `${w} needs chunks up to ${f.firstChunk + f.chunkCount}, the table has ${chunks.count}`)
    let sum = 0
    for (let k = f.firstChunk; k < f.firstChunk + f.chunkCount; k++) sum += chunks.sizes[k]
    if (sum !== f.size) throw chunkerError(Codes.MANIFEST_SIZE_MISMATCH, `${w} (${f.path}) is ${f.size} bytes but its chunks add up to ${sum}`)
    nextChunk += f.chunkCount
    files.push(f)
  })
  if (nextChunk !== chunks.count) throw chunkerError(Codes.MANIFEST_SIZE_MISMATCH, `files use ${nextChunk} chunks, the table has ${chunks.count}`)
  // A file cannot also be a directory of another file ("a" and "a/b").
  for (const p of paths) {
    for (let cut = p.indexOf('/'); cut !== -1; cut = p.indexOf('/', cut + 1)) {
      const dir = p.slice(0, cut)
      if (paths.has(dir)) throw chunkerError(Codes.MANIFEST_DUPLICATE_PATH, `path ${JSON.stringify(dir)} is both a file and the directory of ${JSON.stringify(p)}`)
    }
  }
  return files
}

/** Pieces must tile each file's chunks in order: file by file, no gap, no overlap. */
function checkPieces(list: unknown[], files: ManifestFile[], chunks: ChunkTable): Piece[] {
  const pieces: Piece[] = []
  let file = 0
  let nextChunk = 0
  let offset = 0
  const skipDone = (): void => {
    while (file < files.length && nextChunk === files[file].firstChunk + files[file].chunkCount) {
      file++
      offset = 0
    }
  }
  skipDone()
  list.forEach((v, i) => {
    const w = `pieces[${i}]`
    const o = object(v, w, ['file', 'offset', 'length', 'firstChunk', 'chunkCount'])
    const p: Piece = { file: uint(o.file, `${w}.file`), offset: uint(o.offset, `${w}.offset`), length: uint(o.length, `${w}.length`), firstChunk: uint(o.firstChunk, `${w}.firstChunk`), chunkCount: uint(o.chunkCount, `${w}.chunkCount`) }
    const f = files[file]
    if (f === undefined || p.file !== file || p.firstChunk !== nextChunk || p.offset !== offset || p.chunkCount < 1 ||
      p.firstChunk + p.chunkCount > f.firstChunk + f.chunkCount) {
      throw chunkerError(Codes.MANIFEST_SIZE_MISMATCH, `${w} does not continue where the previous piece ended (expected file ${file}, chunk ${nextChunk}, offset ${offset})`)
    }
    let sum = 0
    for (let k = p.firstChunk; k < p.firstChunk + p.chunkCount; k++) sum += chunks.sizes[k]
    if (sum !== p.length) throw chunkerError(Codes.MANIFEST_SIZE_MISMATCH, `${w} is ${p.length} bytes but its chunks add up to ${sum}`)
    nextChunk += p.chunkCount
    offset += p.length
    pieces.push(p)
    skipDone()
  })
  if (file !== files.length) throw chunkerError(Codes.MANIFEST_SIZE_MISMATCH, `pieces end at chunk ${nextChunk}; files hold ${chunks.count} chunks`)
  return pieces
}

function checkPrograms(list: unknown[]): Program[] {
  const names = new Set<string>()
  return list.map((v, i) => {
    const w = `programs[${i}]`
    const o = object(v, w, ['name', 'command', 'args'])
    const name = string(o.name, `${w}.name`)
    const command = string(o.command, `${w}.command`)
    if (name === '' || names.has(name)) schema(`${w}.name`, 'must be non-empty and unique')
    if (command === '') schema(`${w}.command`, 'must not be empty')
    names.add(name)
    return { name, command, args: array(o.args, `${w}.args`).map((a, k) => string(a, `${w}.args[${k}]`)) }
  })
}

/** Reads and parses a manifest file; unreadable files get PEERSTAGE_CHUNKER_MANIFEST_UNREADABLE. */
export function readManifest(path: string, options: ParseManifestOptions = {}): SignedManifest {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw chunkerError(Codes.MANIFEST_UNREADABLE, `cannot read manifest ${path}: ${(err as Error).message}`, { cause: err, details: { path } })
  }
  return parseManifest(text, { source: path, ...options })
}
