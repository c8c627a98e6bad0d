import { posix, win32 } from 'node:path'
import { findWindowsProblem } from '../chunker/index.ts'

/**
 * Where a node behaves differently on Windows, in one place: how a package's program is
 * launched, how it and everything it started are ended, how package paths map to the disk,
 * whether file modes apply, how the NAME@VERSION link is made. Pure functions taking the
 * platform (default: this one), so the Windows rules are unit-tested on Linux; the callers
 * (node/client/supervisor.ts and program.ts, node/store, node/staging) act on the answers.
 */

export type Platform = NodeJS.Platform

/** How to start a program: what to spawn, with which arguments and options. */
export interface Launch {
  file: string
  args: string[]
  /** Hand the arguments to Windows as they are: cmd.exe's quoting is applied already. */
  windowsVerbatimArguments: boolean
  /**
   * POSIX: a process group of its own, so the whole tree can be signalled. Windows: no
   * (a new console would open a window); taskkill /T finds the tree by parentage.
   */
  detached: boolean
}

/** One step of ending a process tree; `$PID` in `args` stands for the root's pid. */
export type TreeStopStep =
  | { kind: 'signal-group', signal: NodeJS.Signals }
  | { kind: 'run', file: string, args: string[] }

/** The pid placeholder in a TreeStopStep's arguments. */
export const PID_PLACEHOLDER = '$PID'

/** cmd.exe's metacharacters, each escaped with `^` (cross-spawn's rule, MIT). */
const CMD_META = /([()\][%!^"`<>&|;, *?])/g

function systemRoot(env: NodeJS.ProcessEnv): string {
  return env.SystemRoot ?? env.SYSTEMROOT ?? 'C:\\Windows'
}

/** One argument quoted for the C runtime's parser, then escaped for cmd.exe. */
export function cmdArgument(arg: string): string {
  // Backslashes before a quote, or at the end (before the closing quote), double; the quote is escaped.
  const quoted = `"${arg.replace(/(\\*)"/g, '$1$1\\"').replace(/(\\*)$/, '$1$1')}"`
  return quoted.replace(CMD_META, '^$1')
}

/**
 * How to launch a manifest program's command with its arguments, never through a shell on
 * POSIX (the manifest says exactly what runs). On Windows a batch file (`.cmd`, `.bat`) can
 * only run through cmd.exe (`/d`: no AutoRun, `/s /c "…"`: the line as given), every
 * argument escaped so cmd.exe passes it as one argument and expands nothing in it; a
 * PowerShell script through Windows PowerShell with no profile and the execution policy
 * bypassed for that one process; anything else (an `.exe`) directly. Throws an Error with
 * the reason when an argument cannot be passed to a batch file intact.
 */
export function programLaunch(command: string, args: readonly string[], platform: Platform = process.platform, env: NodeJS.ProcessEnv = process.env): Launch {
  if (platform !== 'win32') return { file: command, args: [...args], windowsVerbatimArguments: false, detached: true }
  const ext = win32.extname(command).toLowerCase()
  if (ext === '.cmd' || ext === '.bat') {
    // cmd.exe ends a command line at a line break and cannot carry a NUL: refuse rather than run something else.
    const bad = args.find((a) => /[\r\n\0]/.test(a))
    if (bad !== undefined) throw new Error(`argument ${JSON.stringify(bad)} holds a line break or NUL, which cmd.exe cannot pass to ${win32.basename(command)}`)
    const line = [command.replace(CMD_META, '^$1'), ...args.map(cmdArgument)].join(' ')
    const cmd = env.ComSpec ?? env.COMSPEC ?? `${systemRoot(env)}\\System32\\cmd.exe`
    return { file: cmd, args: ['/d', '/s', '/c', `"${line}"`], windowsVerbatimArguments: true, detached: false }
  }
  if (ext === '.ps1') {
    const powershell = `${systemRoot(env)}\\System32\\WindowsPowerShell\\v1.0\\powershell.exe`
    return { file: powershell, args: ['-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-File', command, ...args], windowsVerbatimArguments: false, detached: false }
  }
  return { file: command, args: [...args], windowsVerbatimArguments: false, detached: false }
}

/**
 * How to end a program and everything it started: first `soft` (it may clean up), `hard`
 * after the grace. POSIX signals the process group; Windows has no SIGTERM a console
 * program can catch, so `taskkill /T` asks the tree to close and `/F` ends it.
 */
export function treeStopSteps(platform: Platform = process.platform, env: NodeJS.ProcessEnv = process.env): { soft: TreeStopStep, hard: TreeStopStep } {
  if (platform !== 'win32') return { soft: { kind: 'signal-group', signal: 'SIGTERM' }, hard: { kind: 'signal-group', signal: 'SIGKILL' } }
  const taskkill = `${systemRoot(env)}\\System32\\taskkill.exe`
  return {
    soft: { kind: 'run', file: taskkill, args: ['/T', '/PID', PID_PLACEHOLDER] },
    hard: { kind: 'run', file: taskkill, args: ['/T', '/F', '/PID', PID_PLACEHOLDER] },
  }
}

/**
 * How the client asks a program's supervisor (maybe one an earlier client process started)
 * to end the program: SIGTERM on POSIX; on Windows a signal would terminate the supervisor
 * at once, leaving the program running and its exit unrecorded, so a stop file beside the
 * status file, which the supervisor watches on every platform.
 */
export function supervisorStopBy(platform: Platform = process.platform): 'signal' | 'stop-file' {
  return platform === 'win32' ? 'stop-file' : 'signal'
}

/** The stop file of a program's status file (see supervisorStopBy). */
export const stopFileOf = (statusPath: string): string => `${statusPath}.stop`

/** A package path (relative, `/`-separated, checked on parse) under `root`, with the platform's separators. */
export function localPath(root: string, packagePath: string, platform: Platform = process.platform): string {
  return (platform === 'win32' ? win32 : posix).join(root, ...packagePath.split('/'))
}

/**
 * The first path of a package that this platform cannot write as given, with the rule;
 * undefined when all can be. Windows: reserved device names, forbidden characters, trailing
 * dots and spaces, MAX_PATH unless the package was packed with long paths, and two paths that
 * differ only in case (chunker/windows-names.ts, the rules `pack` applies). `pack` refuses
 * these already; a client checks again what it receives, from an older or foreign packer.
 */
export function packagePathProblem(paths: readonly string[], options: { longPaths?: boolean }, platform: Platform = process.platform): { path: string, rule: string } | undefined {
  return platform === 'win32' ? findWindowsProblem(paths, options) : undefined
}

/**
 * Whether a manifest's file modes are applied. Not on Windows: chmod there only sets the
 * read-only attribute, which would stop a program editing its package and the cache
 * deleting it, and the execute bits mean nothing (the extension decides).
 */
export const appliesFileModes = (platform: Platform = process.platform): boolean => platform !== 'win32'

/**
 * How the readable link `packages/NAME@VERSION` points at `packages/ID`. POSIX: a relative
 * symlink. Windows: a directory junction, which needs no privilege (a symlink needs
 * administrator rights or developer mode) but takes an absolute target.
 */
export function packageLink(linkPath: string, id: string, platform: Platform = process.platform): { target: string, type: 'junction' | undefined } {
  if (platform !== 'win32') return { target: id, type: undefined }
  return { target: win32.join(win32.dirname(linkPath), id), type: 'junction' }
}

/** Whether `current` (what readlink says of the link) is the link packageLink makes to `id`. */
export function linkPointsAt(current: string, linkPath: string, id: string, platform: Platform = process.platform): boolean {
  if (platform !== 'win32') return current === id
  const plain = (p: string): string => win32.resolve(p.replace(/^\\\\\?\\/, '')).replace(/\\+$/, '').toLowerCase()
  return plain(current) === plain(packageLink(linkPath, id, platform).target)
}
