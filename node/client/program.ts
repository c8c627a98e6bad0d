import { closeSync, existsSync, mkdirSync, openSync, readSync, statSync, writeFileSync } from 'node:fs'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { programLaunch, stopFileOf, supervisorStopBy, type Launch } from '../platform.ts'
import { readExit, startSupervisor, supervisorAlive, type ProgramExit } from './supervisor.ts'

/** The program's output kept for the report: the end is what explains a failure. */
export const LOG_TAIL_BYTES = 2048
/** After a timeout's soft stop (SIGTERM to its group; taskkill /T), the program gets this long before the hard one. */
export const DEFAULT_KILL_GRACE_MS = 10_000
/** How often a resumed client looks for the exit of a program it did not start. */
const RESUME_POLL_MS = 250

export interface ProgramInit {
  command: string
  args: string[]
  /** The package directory: the program's working directory. */
  cwd: string
  env: NodeJS.ProcessEnv
  /** Its whole output (stdout and stderr) is appended here. */
  logPath: string
  /** Where its exit is recorded, even if this process dies meanwhile. @default `${logPath}.exit.json` */
  statusPath?: string
  /** Aborting ends the program and everything it started (SIGTERM, SIGKILL after the grace; on Windows taskkill /T, then /F). */
  signal?: AbortSignal
  /** End it (as when aborted) if it has not exited this long after its start. @default none */
  timeoutMs?: number
  /** @default DEFAULT_KILL_GRACE_MS */
  killGraceMs?: number
  /** Told the supervisor's pid once it runs: keep it to resume after a restart (resumeProgram). */
  onStarted?: (supervisorPid: number) => void
}

export interface ProgramResult extends ProgramExit {
  logTail: string
}

/** The default status file of a log. */
export const statusPathOf = (logPath: string): string => `${logPath}.exit.json`

/**
 * Runs a manifest program without a shell (the manifest says exactly what runs), under a
 * supervisor (supervisor.ts) that records its exit. A command naming a file of the package
 * (`setup.cmd`, `bin/install.sh`) runs that file; a bare name not in the package is looked up on PATH.
 */
export function runProgram(init: ProgramInit): Promise<ProgramResult> {
  const inPackage = isAbsolute(init.command) ? init.command : resolve(init.cwd, init.command)
  const command = init.command.includes('/') || existsSync(join(init.cwd, init.command)) ? inPackage : init.command
  const statusPath = init.statusPath ?? statusPathOf(init.logPath)
  mkdirSync(dirname(init.logPath), { recursive: true })
  const logFrom = existsSync(init.logPath) ? statSync(init.logPath).size : 0
  let launch: Launch
  try {
    launch = programLaunch(command, init.args)
  } catch (err) {
    return Promise.resolve({ exitCode: null, signal: null, startError: `cannot start '${init.command}': ${(err as Error).message}`, logTail: '' })
  }
  const supervisor = startSupervisor({
    launch, displayName: init.command, cwd: init.cwd, env: init.env, logPath: init.logPath, statusPath,
    timeoutMs: init.timeoutMs ?? 0, killGraceMs: init.killGraceMs ?? DEFAULT_KILL_GRACE_MS,
  })
  const stop = (): void => { stopSupervisor(supervisor.pid, statusPath) }
  init.signal?.addEventListener('abort', stop, { once: true })
  if (supervisor.pid !== undefined) init.onStarted?.(supervisor.pid)
  return new Promise((done) => {
    let spawnError: string | undefined
    supervisor.once('error', (err: NodeJS.ErrnoException) => { spawnError = `cannot start the program's supervisor: ${err.code ?? err.message}` })
    supervisor.once('close', (code, signal) => {
      init.signal?.removeEventListener('abort', stop)
      // No status file: the supervisor itself was killed (SIGKILL to its group), never ran,
      // or failed (its stderr is in the log, so the report's log tail says why).
      const failed = code !== null ? `the program's supervisor exited with code ${code} before recording the program's exit (its error is at the end of the log)` : undefined
      const startError = spawnError ?? failed
      const exit = readExit(statusPath) ?? { exitCode: null, signal, ...(startError !== undefined && { startError }) }
      done({ ...exit, logTail: logTail(init.logPath, logFrom) })
    })
  })
}

export interface ResumeInit {
  supervisorPid: number
  logPath: string
  statusPath?: string
  /** Aborting ends the program as runProgram's signal does. */
  signal?: AbortSignal
}

/**
 * A program started by an earlier process of this client: its recorded result, at once
 * when it has exited, or once it does while its supervisor still runs. undefined when it
 * left no result and its supervisor is gone (the result is unknown).
 */
export function resumeProgram(init: ResumeInit): Promise<ProgramResult> | undefined {
  const statusPath = init.statusPath ?? statusPathOf(init.logPath)
  const result = (exit: ProgramExit): ProgramResult => ({ ...exit, logTail: logTail(init.logPath, 0) })
  const now = readExit(statusPath)
  if (now !== undefined) return Promise.resolve(result(now))
  if (!supervisorAlive(init.supervisorPid, statusPath)) return undefined
  const stop = (): void => { stopSupervisor(init.supervisorPid, statusPath) }
  init.signal?.addEventListener('abort', stop, { once: true })
  return new Promise((done) => {
    // Not our child, so no exit event: poll, as long as it lives (its timeout bounds it, if any).
    const look = (): void => {
      const exit = readExit(statusPath)
      if (exit === undefined && supervisorAlive(init.supervisorPid, statusPath)) {
        setTimeout(look, RESUME_POLL_MS)
        return
      }
      init.signal?.removeEventListener('abort', stop)
      done(result(exit ?? { exitCode: null, signal: null, startError: 'its supervisor ended without recording the exit' }))
    }
    look()
  })
}

/** Asks a supervisor to end its program, as this platform allows (node/platform.ts). */
function stopSupervisor(pid: number | undefined, statusPath: string): void {
  if (supervisorStopBy() === 'stop-file') {
    writeFileSync(stopFileOf(statusPath), '')
    return
  }
  try {
    if (pid !== undefined) process.kill(pid, 'SIGTERM')
  } catch {
    // gone meanwhile
  }
}

/** The last LOG_TAIL_BYTES of this run's output (from `from`), decoded without a cut character at its start. */
function logTail(logPath: string, from: number): string {
  let fd: number
  try {
    fd = openSync(logPath, 'r')
  } catch {
    return ''
  }
  try {
    const size = statSync(logPath).size
    const start = Math.max(from, size - LOG_TAIL_BYTES)
    const buf = Buffer.alloc(Math.max(0, size - start))
    readSync(fd, buf, 0, buf.length, start)
    return buf.toString('utf8').replace(/^\uFFFD+/, '')
  } finally {
    closeSync(fd)
  }
}
