import { createCipheriv } from 'node:crypto'
import { closeSync, existsSync, mkdirSync, openSync, renameSync, statSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url))
export const CACHE_DIR = join(BENCH_DIR, '.cache')
export const RESULTS_DIR = join(BENCH_DIR, 'results')
/** The bundled CLI (scripts/build.ts), which run.ts builds before any bench: the way services run it. */
export { DIST_BIN as BIN } from '../scripts/build.ts'

/** One row of the summary table: a figure, its reference, and their ratio. */
export interface BenchRow {
  bench: string
  metric: string
  value: string
  reference: string
  ratio: number | null
  goal: string
  pass: boolean | null
}

export interface BenchOutcome {
  rows: BenchRow[]
  /** Everything measured, for bench/results/*.json. */
  data: Record<string, unknown>
}

/**
 * A file of `bytes` incompressible, deterministic bytes (AES-CTR keystream), made once
 * and kept under bench/.cache so every run reads the same content.
 */
export function cachedRandomFile(name: string, bytes: number, seed = 1): string {
  mkdirSync(CACHE_DIR, { recursive: true })
  const path = join(CACHE_DIR, name)
  if (existsSync(path) && statSync(path).size === bytes) return path
  const key = Buffer.alloc(16, seed)
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16))
  const zeros = Buffer.alloc(8 * 1024 * 1024)
  const tmp = `${path}.tmp`
  const fd = openSync(tmp, 'w')
  for (let done = 0; done < bytes;) {
    const n = Math.min(zeros.length, bytes - done)
    const block = cipher.update(zeros.subarray(0, n))
    writeSync(fd, block)
    done += n
  }
  closeSync(fd)
  renameSync(tmp, path)
  return path
}

export const GB = 1e9
export const fmtRate = (bytesPerSec: number): string => `${(bytesPerSec / GB).toFixed(3)} GB/s`

/** Smallest and largest sum over any `width` consecutive bins, as ratios to the expected bytes. */
export function windowExtremes(bins: number[], width: number, bytesPerBin: number): { min: number, max: number } {
  let min = Number.POSITIVE_INFINITY
  let max = 0
  let sum = 0
  for (let i = 0; i < bins.length; i++) {
    sum += bins[i]!
    if (i >= width) sum -= bins[i - width]!
    if (i >= width - 1) {
      min = Math.min(min, sum / (bytesPerBin * width))
      max = Math.max(max, sum / (bytesPerBin * width))
    }
  }
  return { min, max }
}

/** The extreme further from 1. */
export const worst = (e: { min: number, max: number }): number => (Math.abs(1 - e.min) > Math.abs(e.max - 1) ? e.min : e.max)
