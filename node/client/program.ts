import { spawn } from 'node:child_process'
import { createWriteStream, existsSync, mkdirSync } from 'node:fs'
import { dirname, isAbsolute, join, resolve } from 'node:path'

/** The program's output kept for the report: the end is what explains a failure. */
export const LOG_TAIL_BYTES = 2048

export interface ProgramInit {
  command: string
  args: string[]
  /** The package directory: the program's working directory. */
  cwd: string
  env: NodeJS.ProcessEnv
  /** Its whole output (stdout and stderr) is appended here. */
  logPath: string
  /** Aborting sends SIGTERM to the program and everything it started. */
  signal?: AbortSignal
}

export interface ProgramResult {
  /** null when it was killed by a signal or could not start. */
  exitCode: number | null
  signal: NodeJS.Signals | null
  /** Set when it could not start (not found, not executable). */
  startError?: string
  logTail: string
}

/**
 * Runs a manifest program without a shell (the manifest says exactly what runs). A command
 * naming a file of the package (`setup.cmd`, `bin/install.sh`) runs that file; a bare name
 * not in the package is looked up on PATH.
 */
export function runProgram(init: ProgramInit): Promise<ProgramResult> {
  const inPackage = isAbsolute(init.command) ? init.command : resolve(init.cwd, init.command)
  const command = init.command.includes('/') || existsSync(join(init.cwd, init.command)) ? inPackage : init.command
  mkdirSync(dirname(init.logPath), { recursive: true })
  const log = createWriteStream(init.logPath, { flags: 'a' })
  let tail = Buffer.alloc(0)
  const keep = (chunk: Buffer): void => {
    log.write(chunk)
    tail = Buffer.concat([tail, chunk])
    if (tail.length > LOG_TAIL_BYTES) tail = tail.subarray(tail.length - LOG_TAIL_BYTES)
  }
  return new Promise((done) => {
    // Its own process group, so stopping it stops what it started too (an installer's children).
    const child = spawn(command, init.args, { cwd: init.cwd, env: init.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    const abort = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGTERM')
      } catch {
        child.kill('SIGTERM') // the group is gone already
      }
    }
    init.signal?.addEventListener('abort', abort, { once: true })
    child.stdout.on('data', keep)
    child.stderr.on('data', keep)
    let startError: string | undefined
    child.once('error', (err: NodeJS.ErrnoException) => { startError = `cannot start '${init.command}': ${err.code ?? err.message}` })
    child.once('close', (exitCode, signal) => {
      init.signal?.removeEventListener('abort', abort)
      log.end(() => done({
        exitCode: startError === undefined ? exitCode : null,
        signal,
        ...(startError !== undefined && { startError }),
        logTail: tail.toString('utf8').replace(/^\uFFFD+/, ''),
      }))
    })
  })
}
