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

export { pseudoRandomBytes } from './random.ts'
