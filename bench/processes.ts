/**
 * Processes a bench starts and must end: each in a process group of its own, the whole tree
 * stopped by `stop()` (and killed when this process exits, or at once on a signal), with CPU
 * and peak RSS from /proc while it lives and from /usr/bin/time's wait4 rusage when it exits
 * (`timed: true`). reference-peers.ts starts the reference programs with it; any bench may
 * start `peerstage` itself the same way.
 */
import { spawn } from 'node:child_process'
import { accessSync, constants, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'

const TIME_FORMAT = '%e %U %S %M'
/** How long stop() waits after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 3000
/** Keep at most this much of a process's stdout (JSON results are small), and this much of stderr's end. */
const STDOUT_MAX = 1 << 20
const STDERR_TAIL = 8192
const CLK_TCK = 100 // USER_HZ: what /proc/PID/stat counts in on Linux, whatever the kernel's HZ

/** How a process ended. */
export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  /** The last 8 KiB of its stderr. */
  stderrTail: string
  /** Spawn to exit, as seen here. */
  wallSeconds: number
  /** User + system CPU of the process and every descendant it reaped (wait4 rusage, via /usr/bin/time); only when `timed`. */
  cpuSeconds?: number
  /** Peak RSS of the largest process of the tree (ru_maxrss); only when `timed`. */
  peakRssBytes?: number
}

export interface PeerProcess {
  readonly name: string
  /** Its process group id, the pid of the first program spawned (prefix or /usr/bin/time included). */
  readonly pid: number
  /** performance.now() when it was spawned. */
  readonly startedAt: number
  /** Settles when it exits, whatever the code; never rejects. */
  readonly exited: Promise<Exit>
  /** Its exit, rejecting with the command, code and stderr's end unless the code was 0. */
  done(): Promise<Exit>
  /** The first stdout line `match` accepts; rejects if it exits first. */
  line(match?: (line: string) => boolean): Promise<string>
  /** User + system CPU seconds so far of the live tree, children it reaped included (/proc). */
  cpuSeconds(): number
  /** Sum over the live tree of each process's peak RSS (VmHWM), bytes. */
  peakRssBytes(): number
  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves once it exited. Safe twice. */
  stop(graceMs?: number): Promise<void>
}

export interface ProcessInit {
  /** @default [] */
  prefix?: string[]
  cwd?: string
  /** In errors. @default the command's basename */
  name?: string
  /** Run it under /usr/bin/time, so `Exit` carries the tree's CPU and peak RSS (when /usr/bin/time exists). @default false */
  timed?: boolean
  env?: NodeJS.ProcessEnv
}

/** A program's full path (PATH, then the sbin directories root's PATH has); undefined when absent. */
export function toolPath(name: string): string | undefined {
  if (name.includes('/')) return existsSync(name) ? name : undefined
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/local/sbin', '/usr/sbin', '/sbin']
  for (const d of dirs.filter(Boolean)) {
    try {
      accessSync(join(d, name), constants.X_OK)
      return join(d, name)
    } catch { /* not here */ }
  }
  return undefined
}

export const TIME = (): string | undefined => toolPath('/usr/bin/time')
/** A TCP port nothing listens on at `address` now, in this process's network namespace. */
export function freePort(address = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, address, () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

// Process groups still running: killed when this process exits, or at once on a signal, after
// which nothing new starts and the signal is raised again 5 s later (time for the callers'
// `finally` to remove their files, their awaits having failed with the killed processes).
const live = new Set<number>()
let guarded = false
let interrupted: NodeJS.Signals | undefined
function guard(): void {
  if (interrupted !== undefined) throw new Error(`interrupted by ${interrupted}`)
  if (guarded) return
  guarded = true
  const killAll = (): void => { for (const pgid of live) killGroup(pgid, 'SIGKILL') }
  process.on('exit', killAll)
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      interrupted = sig
      killAll()
      setTimeout(() => { killAll(); process.kill(process.pid, sig) }, 5000).unref()
    })
  }
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal)
  } catch { /* gone */ }
}

interface ProcStat { pid: number, ppid: number, ticks: number }

function readStat(pid: string): ProcStat | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'latin1')
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ') // from field 3, state
    return { pid: Number(pid), ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) }
  } catch {
    return undefined
  }
}

/** `root` and every live descendant. */
function tree(root: number): ProcStat[] {
  const all = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(readStat).filter((s) => s !== undefined)
  const children = new Map<number, ProcStat[]>()
  for (const s of all) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s])
  const out = all.filter((s) => s.pid === root)
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i]!.pid) ?? []))
  return out
}

function peakKiB(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))
    return m === null ? 0 : Number(m[1])
  } catch {
    return 0
  }
}

/** Starts `command` (prefixed) in a process group of its own. */
export function startProcess(command: string[], init: ProcessInit = {}): PeerProcess {
  guard()
  const name = init.name ?? basename(command[0]!)
  const time = init.timed === true ? TIME() : undefined
  const timeDir = time === undefined ? undefined : mkdtempSync(join(tmpdir(), 'peerstage-time-'))
  const timeFile = timeDir === undefined ? '' : join(timeDir, 'rusage')
  const argv = [...(time === undefined ? [] : [time, '-f', TIME_FORMAT, '-o', timeFile]), ...(init.prefix ?? []), ...command]
  const started = performance.now()
  const proc = spawn(argv[0]!, argv.slice(1), { cwd: init.cwd, env: init.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  const pid = proc.pid
  let stdout = ''
  let stderr = ''
  const waiters: Array<{ match: (l: string) => boolean, resolve: (l: string) => void }> = []
  let partial = ''
  proc.stdout.on('data', (d: Buffer) => {
    const text = d.toString()
    if (stdout.length < STDOUT_MAX) stdout += text
    partial += text
    for (let i = partial.indexOf('\n'); i >= 0; i = partial.indexOf('\n')) {
      const line = partial.slice(0, i)
      partial = partial.slice(i + 1)
      for (const w of waiters.filter((x) => x.match(line))) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve(line)
      }
    }
  })
  proc.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-STDERR_TAIL) })
  if (pid !== undefined) live.add(pid)
  let wallSeconds = 0
  proc.once('exit', () => {
    wallSeconds = (performance.now() - started) / 1000
    if (pid !== undefined) killGroup(pid, 'SIGKILL') // anything it left behind
  })
  const exited = new Promise<Exit>((resolve) => {
    const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (pid !== undefined) live.delete(pid)
      const exit: Exit = { code, signal, stdout, stderrTail: stderr, wallSeconds }
      if (timeDir !== undefined) {
        try {
          const last = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number)
          if (last.length === 4 && last.every(Number.isFinite)) Object.assign(exit, { cpuSeconds: last[1]! + last[2]!, peakRssBytes: last[3]! * 1024 })
        } catch { /* killed before it wrote */ }
        rmSync(timeDir, { recursive: true, force: true })
      }
      resolve(exit)
    }
    proc.once('error', (err) => { stderr += String(err); finish(null, null) })
    proc.once('close', finish)
  })

  const describe = (e: Exit): string => `${name} (${argv.join(' ')}) exited with ${e.code ?? e.signal}${e.stderrTail.trim() === '' ? '' : `: ${e.stderrTail.trim().split('\n').slice(-5).join(' | ')}`}`
  let stopping: Promise<void> | undefined
  return {
    name,
    pid: pid ?? -1,
    startedAt: started,
    exited,
    async done() {
      const e = await exited
      if (e.code !== 0) throw new Error(describe(e))
      return e
    },
    line(match = () => true) {
      return new Promise((resolve, reject) => {
        waiters.push({ match, resolve })
        void exited.then((e) => reject(new Error(`${describe(e)} before printing the line awaited`)))
      })
    },
    cpuSeconds: () => pid === undefined ? 0 : tree(pid).reduce((n, s) => n + s.ticks, 0) / CLK_TCK,
    peakRssBytes: () => pid === undefined ? 0 : tree(pid).reduce((n, s) => n + peakKiB(s.pid), 0) * 1024,
    stop(graceMs = STOP_GRACE_MS) {
      stopping ??= (async () => {
        if (pid === undefined || proc.exitCode !== null || proc.signalCode !== null) return void await exited
        killGroup(pid, 'SIGTERM')
        const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), graceMs)
        await exited
        clearTimeout(timer)
      })()
      return stopping
    },
  }
}
