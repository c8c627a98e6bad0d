import type { KeyObject } from 'node:crypto'
import { statSync } from 'node:fs'
import PQueue from 'p-queue'
import { isPeerstageError } from '../common/index.ts'
import { chunkFile, type FileChunks } from './chunk-file.ts'
import { ChunkerErrorCodes as Codes, chunkerError } from './errors.ts'
import { DEFAULT_CHUNKING, validateChunkingParams, type ChunkingParams } from './fastcdc.ts'
import { CHUNKING_ALGORITHM, MANIFEST_FORMAT, signManifest, type ManifestFile, type Program, type SignedManifest } from './manifest.ts'
import { assertSafeName } from './paths.ts'
import { derivePieces } from './pieces.ts'
import { HashPool } from './pool.ts'
import { HASH_BYTES } from './scan.ts'
import { listSourceFiles, type SourceFile } from './source.ts'
import { findWindowsProblem } from './windows-names.ts'

export interface PackInit {
  name: string
  version: string
  /** The publisher's Ed25519 private key. */
  privateKey: KeyObject
  programs?: Program[]
  /**
   * The package may hold paths over Windows' 260 characters (its targets enable long paths);
   * recorded in the manifest as `longPaths: true`. @default false
   */
  longPaths?: boolean
  /** @default DEFAULT_CHUNKING */
  chunking?: ChunkingParams
  /** @default now */
  createdAt?: Date
  /** Reused when given (and left open); otherwise one is made and closed. */
  pool?: HashPool
  /** Bytes chunked and hashed so far, of `totalBytes`. */
  onProgress?: (doneBytes: number, totalBytes: number) => void
}

export interface PackResult extends SignedManifest {
  totalBytes: number
}

/**
 * Chunks, hashes and signs a file or directory into a manifest. Files are chunked in
 * parallel (and large ones split across threads), memory stays flat in the file size.
 */
export async function pack(source: string, init: PackInit): Promise<PackResult> {
  assertSafeName(init.name, 'name')
  assertSafeName(init.version, 'version')
  const params = validateChunkingParams(init.chunking ?? DEFAULT_CHUNKING)
  const sources = listSourceFiles(source)
  assertWindowsSafe(sources, init.longPaths === true)
  const totalBytes = sources.reduce((n, f) => n + f.size, 0)
  const pool = init.pool ?? new HashPool()
  try {
    const chunked = await chunkAll(pool, params, sources, totalBytes, init.onProgress)
    const { files, sizes, hashes } = assembleTable(sources, chunked)
    return {
      ...signManifest({
        format: MANIFEST_FORMAT,
        name: init.name,
        version: init.version,
        createdAt: (init.createdAt ?? new Date()).toISOString(),
        chunking: { algorithm: CHUNKING_ALGORITHM, min: params.minSize, avg: params.avgSize, max: params.maxSize, normalization: params.normalization },
        files,
        chunks: { count: sizes.length, sizes, hashes },
        pieces: derivePieces(files, sizes),
        programs: init.programs ?? [],
        ...(init.longPaths === true && { longPaths: true as const }),
      }, init.privateKey),
      totalBytes,
    }
  } finally {
    if (init.pool === undefined) await pool.close()
  }
}

async function chunkAll(pool: HashPool, params: ChunkingParams, sources: SourceFile[], totalBytes: number,
  onProgress: PackInit['onProgress']): Promise<FileChunks[]> {
  const done = new Array<number>(sources.length).fill(0)
  let doneSum = 0
  const queue = new PQueue({ concurrency: pool.threads })
  const results = await Promise.all(sources.map((f, i) => queue.add(async () => {
    const report = (bytes: number): void => {
      doneSum += bytes - done[i]
      done[i] = bytes
      onProgress?.(doneSum, totalBytes)
    }
    try {
      const chunks = await chunkFile(pool, params, f.absolute, f.size, { onProgress: report })
      assertUnchanged(f)
      return chunks
    } catch (err) {
      if (isPeerstageError(err)) throw err
      throw chunkerError(Codes.PACK_SOURCE_CHANGED, `${f.absolute} could not be read to the end (${(err as Error).message}); was it changed or removed while packing?`, { cause: err, details: { path: f.absolute } })
    }
  })))
  return results as FileChunks[]
}

/** Packages go to Windows clients too: refuse at pack what they could not write, before any hashing. */
function assertWindowsSafe(sources: SourceFile[], longPaths: boolean): void {
  const problem = findWindowsProblem(sources.map((s) => s.path), { longPaths })
  if (problem === undefined) return
  throw chunkerError(Codes.WINDOWS_UNSAFE_PATH, `cannot pack ${JSON.stringify(problem.path)}: ${problem.rule}; rename it in the source`, { details: { path: problem.path, rule: problem.rule } })
}

/** A file that grew or shrank while read would give a manifest that matches nothing. */
function assertUnchanged(f: SourceFile): void {
  const size = statSync(f.absolute).size
  if (size !== f.size) throw chunkerError(Codes.PACK_SOURCE_CHANGED, `${f.absolute} changed size while being packed (${f.size} → ${size} bytes); pack again once it is stable`, { details: { path: f.absolute } })
}

function assembleTable(sources: SourceFile[], chunked: FileChunks[]): { files: ManifestFile[], sizes: Uint32Array, hashes: Uint8Array } {
  const count = chunked.reduce((n, c) => n + c.lengths.length, 0)
  const sizes = new Uint32Array(count)
  const hashes = new Uint8Array(count * HASH_BYTES)
  const files: ManifestFile[] = []
  let at = 0
  sources.forEach((s, i) => {
    const c = chunked[i]
    sizes.set(c.lengths, at)
    hashes.set(c.hashes, at * HASH_BYTES)
    files.push({ path: s.path, size: s.size, mode: s.mode, firstChunk: at, chunkCount: c.lengths.length })
    at += c.lengths.length
  })
  return { files, sizes, hashes }
}
