import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const BIN = fileURLToPath(new URL('../../bin/peerstage.ts', import.meta.url))

export interface CliResult {
  code: number
  stdout: string
  stderr: string
}

/** Runs the real CLI in a child process (the same Node as the tests). */
export function peerstage(args: string[], options: { cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: options.cwd, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1
      resolve({ code, stdout, stderr })
    })
  })
}

/**
 * A long-running CLI process (dp, tracker, fetch --seed-for): resolves with its first JSON
 * document on stdout (one line, or pretty-printed over several).
 */
export function startDaemon(args: string[]): { ready: Promise<Record<string, any>>, stop: () => Promise<void> } {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const ready = new Promise<Record<string, any>>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      const nl = out.indexOf('\n')
      if (nl === -1) return
      for (const candidate of [out.slice(0, nl), out]) {
        try {
          resolve(JSON.parse(candidate) as Record<string, any>)
          return
        } catch {
          // not whole yet
        }
      }
    })
    child.once('exit', (code) => reject(new Error(`daemon exited with ${code}: ${stderr}`)))
  })
  ready.catch(() => {})
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null) return
    const exited = new Promise((r) => child.once('exit', r))
    child.kill('SIGTERM')
    await exited
  }
  return { ready, stop }
}

/** Starts the CLI and returns the child, for tests that kill it. */
export function spawnCli(args: string[]): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
}
