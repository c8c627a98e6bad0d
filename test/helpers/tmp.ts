import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, onTestFinished } from 'vitest'

// Directories not yet removed. This module is loaded once per test file (forks, isolated), so
// this hook is the file's own: it removes what was made outside a test (in beforeAll).
const left = new Set<string>()
afterAll(() => {
  for (const dir of left) rmSync(dir, { recursive: true, force: true })
  left.clear()
})

/** A fresh temporary directory, removed after the current test (made in beforeAll: after the file). */
export function tempDir(prefix = 'peerstage-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  left.add(dir)
  try {
    onTestFinished(() => {
      rmSync(dir, { recursive: true, force: true })
      left.delete(dir)
    })
  } catch {
    // not inside a test: the file's afterAll removes it
  }
  return dir
}

/** Deterministic pseudo-random bytes (xorshift32), so failures reproduce. */
export function pseudoRandomBytes(length: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(length)
  let x = seed >>> 0 || 1
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}
