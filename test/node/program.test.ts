import { existsSync, readFileSync, writeFileSync, chmodSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { LOG_TAIL_BYTES, resumeProgram, runProgram, statusPathOf } from '../../node/client/index.ts'
import { tempDir } from '../helpers/tmp.ts'
import { until } from '../helpers/until.ts'

/** Whether a process runs (a zombie counts as ended). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return true
  }
}

function script(dir: string, name: string, body: string): void {
  writeFileSync(join(dir, name), `#!/bin/sh\n${body}`)
  chmodSync(join(dir, name), 0o755)
}

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

  it('says why when the supervisor itself fails: its exit code in the reason, its error in the log tail (not "killed by null")', async () => {
    const dir = tempDir()
    script(dir, 'ok.sh', 'echo ran\n')
    // A status file it cannot write: the supervisor runs the program, then fails to record it.
    const result = await runProgram({ command: 'ok.sh', args: [], cwd: dir, env: process.env, logPath: join(dir, 'a.log'), statusPath: join(dir, 'absent', 'a.exit.json') })
    expect(result.exitCode).toBeNull()
    expect(result.startError).toMatch(/supervisor exited with code 1 before recording the program's exit/)
    expect(result.logTail).toContain('ran')
    expect(result.logTail).toMatch(/ENOENT/)
  })

  it('ends a program that outlives its timeout, and everything it started, and says so', async () => {
    const dir = tempDir()
    // A child in the background that would outlive its parent: the whole process group must go.
    script(dir, 'hang.sh', 'sleep 600 &\necho $! > child.pid\necho hanging\nwait\n')
    const started = Date.now()
    const result = await runProgram({ command: 'hang.sh', args: [], cwd: dir, env: process.env, logPath: join(dir, 'hang.log'), timeoutMs: 500, killGraceMs: 2000 })
    expect(result).toMatchObject({ exitCode: null, signal: 'SIGTERM', timedOut: true })
    expect(Date.now() - started).toBeLessThan(10_000)
    expect(result.logTail).toMatch(/hanging\n\npeerstage: no exit after 0.5 s: ending the program and its process group\n$/)
    const child = Number(readFileSync(join(dir, 'child.pid'), 'utf8'))
    await until(() => !alive(child), 'the background child to be ended with its group', 5000)
  })

  it('kills a program that ignores SIGTERM once the grace has passed', async () => {
    const dir = tempDir()
    script(dir, 'stubborn.sh', "trap '' TERM\necho up\nwhile :; do sleep 0.1; done\n")
    const started = Date.now()
    const result = await runProgram({ command: 'stubborn.sh', args: [], cwd: dir, env: process.env, logPath: join(dir, 's.log'), timeoutMs: 300, killGraceMs: 400 })
    expect(result).toMatchObject({ exitCode: null, signal: 'SIGKILL', timedOut: true })
    expect(Date.now() - started).toBeGreaterThanOrEqual(700)
  })

  it('records the exit in a status file, so another process can take it: at once, or when a running program ends', async () => {
    const dir = tempDir()
    script(dir, 'three.sh', 'echo working\nsleep 1\necho done\nexit 3\n')
    const logPath = join(dir, 'd.log')
    let pid: number | undefined
    const first = runProgram({ command: 'three.sh', args: [], cwd: dir, env: process.env, logPath, onStarted: (p) => { pid = p } })
    expect(pid).toBeGreaterThan(0)
    // What a restarted client does: the program still runs, its supervisor is found and waited for.
    await until(() => existsSync(logPath) && readFileSync(logPath, 'utf8').includes('working'), 'the program to start')
    const resumed = resumeProgram({ supervisorPid: pid!, logPath })
    expect(resumed).toBeDefined()
    expect(await resumed).toMatchObject({ exitCode: 3, signal: null, logTail: 'working\ndone\n' })
    expect(await first).toMatchObject({ exitCode: 3, logTail: 'working\ndone\n' })
    // Afterwards the status file alone answers.
    expect(JSON.parse(readFileSync(statusPathOf(logPath), 'utf8'))).toMatchObject({ exitCode: 3, signal: null })
    expect(await resumeProgram({ supervisorPid: pid!, logPath })).toMatchObject({ exitCode: 3 })
  })

  it('has no result to resume when the supervisor is gone without recording one', async () => {
    const dir = tempDir()
    script(dir, 'quick.sh', 'exit 0\n')
    let pid: number | undefined
    await runProgram({ command: 'quick.sh', args: [], cwd: dir, env: process.env, logPath: join(dir, 'a.log'), statusPath: join(dir, 'a.exit.json'), onStarted: (p) => { pid = p } })
    expect(resumeProgram({ supervisorPid: pid!, logPath: join(dir, 'other.log'), statusPath: join(dir, 'never-written.json') })).toBeUndefined()
  })
})
