import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { inSingleExecutable, SEA_SUPERVISOR_ARG } from '../../common/index.ts'
import { PID_PLACEHOLDER, stopFileOf, treeStopSteps, type Launch, type TreeStopStep } from '../platform.ts'

/**
 * A small supervisor between the client and a deployment's program, so the program's true
 * result outlives the client: it starts the program as node/platform.ts says (on POSIX in
 * its own process group) with its output appended to the log file (no pipe to the client
 * to break), ends it and what it started at the timeout or when asked (SIGTERM or the stop
 * file; the platform's soft step, its hard step after a grace), and writes the program's
 * exit to a status file (write + rename) before it exits. A client killed meanwhile finds
 * the status file, or the supervisor still running, when it starts again.
 *
 * It runs as `node -e SCRIPT` (plain JS, CommonJS) so it needs no file of its own and works
 * the same from the sources, the bundle and the tests (the single executable runs BODY itself). Arguments:
 * statusPath logPath cwd timeoutMs graceMs displayName planJson (a SupervisorPlan)
 */
const BODY = `
const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const [statusPath, logPath, cwd, timeoutMs, graceMs, name, planJson] = argv
const plan = JSON.parse(planJson)
const stopFile = statusPath + ${JSON.stringify(stopFileOf(''))}
const log = fs.openSync(logPath, 'a')
let timedOut = false
let ending = false
let done = false
const finish = (result) => {
  if (done) return
  done = true
  fs.writeFileSync(statusPath + '.tmp', JSON.stringify(result))
  fs.renameSync(statusPath + '.tmp', statusPath)
  fs.rmSync(stopFile, { force: true })
  process.exit(0)
}
const child = spawn(plan.file, plan.args, { cwd, stdio: ['ignore', log, log], detached: plan.detached, windowsHide: true, windowsVerbatimArguments: plan.windowsVerbatimArguments })
const stopTree = (step) => {
  try {
    if (step.kind === 'signal-group') process.kill(-child.pid, step.signal)
    else spawnSync(step.file, step.args.map((a) => a === ${JSON.stringify(PID_PLACEHOLDER)} ? String(child.pid) : a), { stdio: 'ignore', windowsHide: true })
  } catch {}
}
const end = (why) => {
  if (ending || child.pid === undefined) return
  ending = true
  timedOut = why === 'timeout'
  if (timedOut) fs.writeSync(log, '\\npeerstage: no exit after ' + (Number(timeoutMs) / 1000) + ' s: ending the program and its process group\\n')
  stopTree(plan.stop.soft)
  setTimeout(() => stopTree(plan.stop.hard), Number(graceMs)).unref()
}
child.once('error', (err) => finish({ exitCode: null, signal: null, startError: "cannot start '" + name + "': " + (err.code || err.message) }))
child.once('exit', (exitCode, signal) => {
  if (ending) stopTree(plan.stop.hard) // what it started and left behind
  finish({ exitCode, signal, timedOut })
})
process.on('SIGTERM', () => end('stop'))
process.on('SIGINT', () => end('stop'))
// The client's way to stop it where a signal cannot be caught (Windows: node/platform.ts).
setInterval(() => { if (fs.existsSync(stopFile)) end('stop') }, 250).unref()
if (Number(timeoutMs) > 0) setTimeout(() => end('timeout'), Number(timeoutMs)).unref()
`
const SCRIPT = `(function (require, argv) {${BODY}})(require, process.argv.slice(1))`

/** Runs the supervisor in this process, given its arguments: the single executable's way (bin/binary-main.ts). */
export function runSupervisorHere(argv: string[]): void {
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the same script `node -e` runs elsewhere
  new Function('require', 'argv', BODY)(createRequire(process.execPath), argv)
}

/** What the status file holds. */
export interface ProgramExit {
  /** null when it was killed by a signal or could not start. */
  exitCode: number | null
  signal: NodeJS.Signals | null
  startError?: string
  /** It ran past its timeout and was ended. */
  timedOut?: boolean
}

/** What the supervisor runs and how it ends it: node/platform.ts's answers, handed over as JSON. */
export interface SupervisorPlan extends Launch {
  stop: { soft: TreeStopStep, hard: TreeStopStep }
}

export interface SuperviseInit {
  /** How to start the resolved command (a package file's absolute path, or a name looked up on PATH). */
  launch: Launch
  /** As the manifest says it, for messages. */
  displayName: string
  cwd: string
  env: NodeJS.ProcessEnv
  logPath: string
  statusPath: string
  /** 0 = no timeout. */
  timeoutMs: number
  /** After the soft stop step (a timeout or a stop), take the hard one this much later. */
  killGraceMs: number
}

/** Starts the supervisor (in its own process group, detached from the client's). */
export function startSupervisor(init: SuperviseInit): ChildProcess {
  rmSync(init.statusPath, { force: true })
  rmSync(stopFileOf(init.statusPath), { force: true })
  const plan: SupervisorPlan = { ...init.launch, stop: treeStopSteps() }
  // The single executable runs only its own entry: it takes SEA_SUPERVISOR_ARG instead of `-e`.
  const runScript = inSingleExecutable() ? [SEA_SUPERVISOR_ARG] : ['-e', SCRIPT]
  // Its own stderr goes to the program's log: a supervisor that fails says why where the
  // report's log tail shows it (a pipe to the client would break when the client dies).
  const log = openSync(init.logPath, 'a')
  let child: ChildProcess
  try {
    child = spawn(process.execPath, [...runScript, init.statusPath, init.logPath, init.cwd, String(init.timeoutMs), String(init.killGraceMs), init.displayName, JSON.stringify(plan)],
      { cwd: init.cwd, env: init.env, stdio: ['ignore', 'ignore', log], detached: true, windowsHide: true })
  } finally {
    closeSync(log)
  }
  // Kept referenced: whoever waits for the exit keeps this process alive (detached only so
  // the client's terminal signals and death do not reach it).
  return child
}

/** The recorded exit, or undefined when there is none (yet). */
export function readExit(statusPath: string): ProgramExit | undefined {
  if (!existsSync(statusPath)) return undefined
  try {
    return JSON.parse(readFileSync(statusPath, 'utf8')) as ProgramExit
  } catch {
    return undefined // renamed into place whole, so this is a file someone else damaged
  }
}

/**
 * Whether the supervisor `pid` (of this status file) still runs. Where /proc exists, a
 * zombie or a pid reused by another process (after a reboot) counts as gone.
 */
export function supervisorAlive(pid: number, statusPath: string): boolean {
  try {
    process.kill(pid, 0)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
  let stat: string
  let cmdline: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
  } catch {
    return true // no /proc (macOS): trust the signal test
  }
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
  return state !== 'Z' && state !== 'X' && cmdline.split('\0').includes(statusPath)
}
