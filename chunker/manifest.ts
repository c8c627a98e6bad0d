import { createHash, type KeyObject } from 'node:crypto'
import { canonicalJson } from './canonical.ts'
import { publisherOf, signBytes } from './keys.ts'
import { HASH_BYTES } from './scan.ts'

/**
 * The signed description of a package. On disk it is canonical JSON (see canonical.ts);
 * in memory the chunk table is typed arrays. Format 1:
 *
 * ```
 * { format: 1, name, version, createdAt,
 *   chunking: { algorithm: "fastcdc-2020", min, avg, max, normalization },
 *   files:  [{ path, size, mode, firstChunk, chunkCount }],   // sorted by path
 *   chunks: { count, sizes: base64(u32 LE × count), hashes: base64(sha256 × count) },
 *   pieces: [{ file, offset, length, firstChunk, chunkCount }],
 *   programs: [{ name, command, args }],
 *   longPaths?: true,                                        // only when packed with --long-paths
 *   publisher: "ed25519:<base64>", signature: base64(Ed25519 over the canonical form without signature) }
 * ```
 * The chunk table lists every file's chunks in file order (a file's chunks are
 * `chunks[firstChunk .. firstChunk + chunkCount)`), packed so a 10 GiB package's manifest
 * is ~8 MB and parses in milliseconds. Package id = SHA-256 of the canonical signed form.
 */
export const MANIFEST_FORMAT = 1
export const CHUNKING_ALGORITHM = 'fastcdc-2020'

export interface ManifestFile {
  /** Relative POSIX path inside the package. */
  path: string
  size: number
  /** Permission bits, e.g. 0o755. */
  mode: number
  firstChunk: number
  chunkCount: number
}

/** A run of consecutive chunks of one file: the unit of swarm scheduling. */
export interface Piece {
  /** Index into `files`. */
  file: number
  /** Byte offset within the file. */
  offset: number
  length: number
  firstChunk: number
  chunkCount: number
}

export interface Program {
  name: string
  command: string
  args: string[]
}

export interface ChunkTable {
  count: number
  sizes: Uint32Array
  /** SHA-256 digests, back to back. */
  hashes: Uint8Array
}

export interface ManifestChunking {
  algorithm: typeof CHUNKING_ALGORITHM
  min: number
  avg: number
  max: number
  normalization: number
}

export interface UnsignedManifest {
  format: typeof MANIFEST_FORMAT
  name: string
  version: string
  createdAt: string
  chunking: ManifestChunking
  files: ManifestFile[]
  chunks: ChunkTable
  pieces: Piece[]
  programs: Program[]
  /** Paths may exceed Windows' 260 characters (absent in older manifests and when false). */
  longPaths?: true
}

export interface Manifest extends UnsignedManifest {
  publisher: string
  signature: string
}

/** A manifest together with what identifies it. */
export interface SignedManifest {
  manifest: Manifest
  /** SHA-256 (hex) of the canonical signed manifest. */
  packageId: string
  /** The canonical JSON, as written to disk and hashed. */
  canonical: string
}

/** The JSON value of a manifest (chunk table packed into base64). */
export function manifestToJson(m: UnsignedManifest | Manifest): Record<string, unknown> {
  const sizes = Buffer.alloc(m.chunks.count * 4)
  for (let i = 0; i < m.chunks.count; i++) sizes.writeUInt32LE(m.chunks.sizes[i], i * 4)
  return {
    ...m,
    chunks: {
      count: m.chunks.count,
      sizes: sizes.toString('base64'),
      hashes: Buffer.from(m.chunks.hashes.buffer, m.chunks.hashes.byteOffset, m.chunks.hashes.byteLength).toString('base64'),
    },
  }
}

/** The bytes a publisher signs: the canonical form without `signature`. */
export function signingPayload(json: Record<string, unknown>): Buffer {
  const { signature: _, ...unsigned } = json
  return Buffer.from(canonicalJson(unsigned), 'utf8')
}

/*
 * The signed and the unsigned canonical forms differ only by the `signature` member, so one
 * is cut from the other instead of serializing a manifest's megabytes twice. Keys are sorted:
 * it always sits between `publisher` and `version`, the last key, after every nested object;
 * and `,"` cannot occur inside a JSON string (a quote there is escaped), so the last
 * `,"signature":` or `,"version":` is the top-level one.
 */
const signatureMember = (signature: string): string => `,"signature":${canonicalJson(signature)}`

/** signingPayload of a manifest from its canonical signed form; undefined when that holds no such signature. */
export function payloadOfCanonical(canonical: string, signature: string): Buffer | undefined {
  const member = signatureMember(signature)
  const at = canonical.lastIndexOf(member)
  if (at === -1) return undefined
  const head = canonical.slice(0, at)
  const tail = canonical.slice(at + member.length)
  // Written into one buffer: no joined string as long as the manifest in between.
  const bytes = Buffer.allocUnsafe(Buffer.byteLength(head) + Buffer.byteLength(tail))
  bytes.write(tail, bytes.write(head, 0, 'utf8'), 'utf8')
  return bytes
}

export function packageIdOf(canonical: string): string {
  return createHash('sha256').update(canonical, 'utf8').digest('hex')
}

export function signManifest(unsigned: UnsignedManifest, privateKey: KeyObject): SignedManifest {
  const publisher = publisherOf(privateKey)
  const { signature: _, ...json } = manifestToJson({ ...unsigned, publisher, signature: '' })
  const payload = canonicalJson(json)
  const signature = signBytes(privateKey, Buffer.from(payload, 'utf8'))
  const at = payload.lastIndexOf(',"version":')
  const canonical = `${payload.slice(0, at)}${signatureMember(signature)}${payload.slice(at)}`
  return { manifest: { ...unsigned, publisher, signature }, packageId: packageIdOf(canonical), canonical }
}

/** Hex SHA-256 of chunk `i`. */
export function chunkHash(table: ChunkTable, i: number): string {
  return Buffer.from(table.hashes.buffer, table.hashes.byteOffset + i * HASH_BYTES, HASH_BYTES).toString('hex')
}

export function totalBytes(m: UnsignedManifest): number {
  return m.files.reduce((n, f) => n + f.size, 0)
}
