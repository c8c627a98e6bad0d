import { readFileSync, writeFileSync, chmodSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { LOG_TAIL_BYTES, runProgram } from '../../node/client/index.ts'
import { tempDir } from '../helpers/tmp.ts'

describe('runProgram', () => {
  it('runs a package file in the package directory and keeps the end of its output', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'setup.sh'), '#!/bin/sh\nfor i in $(seq 1 500); do echo "line $i of $STAGE"; done\necho oops >&2\nexit 3\n')
    chmodSync(join(dir, 'setup.sh'), 0o755)
    const logPath = join(dir, 'logs', 'd-1.log')
    const result = await runProgram({ command: 'setup.sh', args: [], cwd: dir, env: { ...process.env, STAGE: 'x' }, logPath })
    expect(result).toMatchObject({ exitCode: 3, signal: null })
    expect(Buffer.byteLength(result.logTail)).toBeLessThanOrEqual(LOG_TAIL_BYTES)
    expect(result.logTail).toMatch(/line 500 of x\noops\n$/)
    expect(readFileSync(logPath, 'utf8')).toMatch(/^line 1 of x\n/) // the whole output is in the log
  })

  it('says why a program could not start', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'not-executable.sh'), '#!/bin/sh\n')
    const missing = await runProgram({ command: './absent.cmd', args: [], cwd: dir, env: process.env, logPath: join(dir, 'a.log') })
    expect(missing).toMatchObject({ exitCode: null, startError: "cannot start './absent.cmd': ENOENT" })
    const denied = await runProgram({ command: 'not-executable.sh', args: [], cwd: dir, env: process.env, logPath: join(dir, 'b.log') })
    expect(denied).toMatchObject({ exitCode: null, startError: "cannot start 'not-executable.sh': EACCES" })
  })
})
