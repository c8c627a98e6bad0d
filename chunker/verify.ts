import { statSync } from 'node:fs'
import { join } from 'node:path'
import { ChunkerErrorCodes as Codes, chunkerError } from './errors.ts'
import type { Manifest } from './manifest.ts'
import { HashPool } from './pool.ts'
import { HASH_BYTES } from './scan.ts'

/** Chunks per verify job: enough to keep a thread busy, few enough to report progress. */
const JOB_BYTES = 64 * 1024 * 1024

export interface BadChunk {
  /** Index in the manifest's chunk table. */
  index: number
  /** Byte range within the file: [offset, offset + length). */
  offset: number
  length: number
}

export interface FileVerdict {
  path: string
  /** ok; missing (no regular file there); bad (some chunks differ, size may differ too). */
  status: 'ok' | 'missing' | 'bad'
  expectedSize: number
  /** Size on disk, when the file exists. */
  actualSize?: number
  badChunks: BadChunk[]
}

export interface VerifyReport {
  ok: boolean
  files: FileVerdict[]
  /** Bytes the manifest describes. */
  totalBytes: number
  /** Bytes that matched. */
  goodBytes: number
}

export interface VerifyInit {
  pool?: HashPool
  /** Threads of the pool made when none is given. @default HashPool's (all cores, at most 8) */
  threads?: number
  onProgress?: (doneBytes: number, totalBytes: number) => void
}

/**
 * Checks every chunk of every file under `dir` against the manifest, on all threads.
 * Extra files in `dir` are not the manifest's business and are ignored.
 */
export async function verifyDirectory(manifest: Manifest, dir: string, init: VerifyInit = {}): Promise<VerifyReport> {
  try {
    if (!statSync(dir).isDirectory()) throw new Error('not a directory')
  } catch (err) {
    throw chunkerError(Codes.VERIFY_DIR_UNREADABLE, `cannot verify ${dir}: ${(err as Error).message}`, { cause: err, details: { path: dir } })
  }
  const { sizes, hashes } = manifest.chunks
  const totalBytes = manifest.files.reduce((n, f) => n + f.size, 0)
  const pool = init.pool ?? new HashPool(init.threads === undefined ? {} : { threads: init.threads })
  // On the caller's own thread, jobs of one read buffer: its other events wait ~5 ms at most.
  const jobBytes = pool.threads === 0 ? pool.bufferBytes : JOB_BYTES
  let done = 0
  try {
    const verdicts = await Promise.all(manifest.files.map(async (f): Promise<FileVerdict> => {
      const verdict: FileVerdict = { path: f.path, status: 'ok', expectedSize: f.size, badChunks: [] }
      const absolute = join(dir, ...f.path.split('/'))
      let actualSize: number
      try {
        const st = statSync(absolute)
        if (!st.isFile()) throw new Error('not a regular file')
        actualSize = st.size
      } catch {
        done += f.size
        init.onProgress?.(done, totalBytes)
        return { ...verdict, status: 'missing' }
      }
      verdict.actualSize = actualSize
      const jobs: Array<Promise<void>> = []
      let offset = 0
      for (let first = f.firstChunk; first < f.firstChunk + f.chunkCount;) {
        const start = offset
        let end = first
        let bytes = 0
        while (end < f.firstChunk + f.chunkCount && (bytes === 0 || bytes + sizes[end] <= jobBytes)) bytes += sizes[end++]
        const from = first
        jobs.push(pool.verify({
          path: absolute,
          start,
          lengths: sizes.slice(from, end),
          hashes: hashes.slice(from * HASH_BYTES, end * HASH_BYTES),
        }, manifest.chunking.max).then((bad) => {
          // `bad` is ascending: one walk from the job's start gives every offset.
          let at = start
          let k = 0
          for (const b of bad) {
            for (; k < b; k++) at += sizes[from + k]
            verdict.badChunks.push({ index: from + b, offset: at, length: sizes[from + b] })
          }
          done += bytes
          init.onProgress?.(done, totalBytes)
        }))
        offset += bytes
        first = end
      }
      await Promise.all(jobs)
      verdict.badChunks.sort((a, b) => a.index - b.index)
      if (verdict.badChunks.length > 0 || actualSize !== f.size) verdict.status = 'bad'
      return verdict
    }))
    const goodBytes = verdicts.reduce((n, v) => n + (v.status === 'missing' ? 0 : v.expectedSize - v.badChunks.reduce((b, c) => b + c.length, 0)), 0)
    return { ok: verdicts.every((v) => v.status === 'ok'), files: verdicts, totalBytes, goodBytes }
  } finally {
    if (init.pool === undefined) await pool.close()
  }
}
