import { HASH_BYTES, HashPool, type Manifest } from '../../chunker/index.ts'
import type { Bitfield } from './bitfield.ts'
import { filePath } from './package-files.ts'

/** Bytes hashed per job: enough to keep a thread busy. */
const JOB_BYTES = 64 * 1024 * 1024

/**
 * Of the pieces marked present in `files` (manifest file indexes), those whose chunks no
 * longer match on disk, hashed on worker threads. A file that cannot be read fails all of
 * its pieces.
 */
export async function badPresentPieces(manifest: Manifest, root: string, have: Bitfield, files: ReadonlySet<number>): Promise<number[]> {
  const pieces = manifest.pieces.flatMap((p, i) => (have.get(i) && files.has(p.file) ? [i] : []))
  if (pieces.length === 0) return []
  const { sizes, hashes } = manifest.chunks
  // Runs of consecutive pieces of one file, up to JOB_BYTES each.
  const jobs: number[][] = []
  for (const i of pieces) {
    const run = jobs.at(-1)
    const last = run?.at(-1)
    const p = manifest.pieces[i]!
    if (run !== undefined && last === i - 1 && manifest.pieces[last]!.file === p.file && (i - run[0]!) * p.length < JOB_BYTES) run.push(i)
    else jobs.push([i])
  }
  const pool = new HashPool({ threads: Math.min(jobs.length, 8) })
  try {
    const bad = await Promise.all(jobs.map(async (run) => {
      const first = manifest.pieces[run[0]!]!
      const lastPiece = manifest.pieces[run.at(-1)!]!
      const from = first.firstChunk
      const to = lastPiece.firstChunk + lastPiece.chunkCount
      const badChunks = await pool.verify({
        path: filePath(root, manifest, first.file),
        start: first.offset,
        lengths: sizes.slice(from, to),
        hashes: hashes.slice(from * HASH_BYTES, to * HASH_BYTES),
      }, manifest.chunking.max)
      const chunks = new Set(badChunks.map((b) => from + b))
      return run.filter((i) => {
        const p = manifest.pieces[i]!
        for (let k = p.firstChunk; k < p.firstChunk + p.chunkCount; k++) if (chunks.has(k)) return true
        return false
      })
    }))
    return bad.flat()
  } finally {
    await pool.close()
  }
}

/** The pieces holding any of these chunks (manifest chunk indexes) or any piece of these files (paths). */
export function piecesHolding(manifest: Manifest, chunks: Iterable<number>, files: Iterable<string> = []): number[] {
  const badChunks = new Set(chunks)
  const badFiles = new Set(files)
  return manifest.pieces.flatMap((p, i) => {
    if (badFiles.has(manifest.files[p.file]!.path)) return [i]
    for (let k = p.firstChunk; k < p.firstChunk + p.chunkCount; k++) if (badChunks.has(k)) return [i]
    return []
  })
}
