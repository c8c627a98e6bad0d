/**
 * What a person at a terminal sees, on a real pseudo-terminal: `script` (util-linux) runs the
 * CLI with a pty as its stdout and stderr and copies what it draws to our pipe.
 */
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { peerstage, startDaemon } from '../helpers/cli.ts'
import { writeTree } from '../helpers/packages.ts'
import { pseudoRandomBytes, tempDir } from '../helpers/tmp.ts'
import { ISSUE_YAML } from '../tracker/helpers.ts'

const BIN = process.env.PEERSTAGE_BIN ?? fileURLToPath(new URL('../../bin/peerstage.ts', import.meta.url))

const hasScript = ((): boolean => {
  try {
    execFileSync('script', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})()
if (!hasScript) console.warn('skipping the pseudo-terminal tests: no `script` here (apt-get install util-linux)')

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`

/** A CLI run on a pty: what it drew, and a way to end it early (the node process, then script). */
function onTerminal(shell: string, env: Record<string, string> = {}): { output: () => string, exited: Promise<number | null>, pidFile: string } {
  const pidFile = join(tempDir(), 'cli.pid')
  // `exec`: the shell becomes the CLI, so the pid written is the CLI's, for stop().
  const inner = `echo $$ > ${q(pidFile)}; ${shell}`
  const child = spawn('script', ['-qec', `sh -c ${q(inner)}`, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env }, detached: true })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  running.push({ child, pidFile, exited })
  return { output: () => out, exited, pidFile }
}

const running: Array<{ child: ReturnType<typeof spawn>, pidFile: string, exited: Promise<number | null> }> = []
const daemons: Array<() => Promise<void>> = []

/** Ends every process a test started: the CLI by its pid, then script's group. */
afterEach(async () => {
  for (const r of running.splice(0)) {
    if (r.child.exitCode === null && r.child.signalCode === null) {
      if (existsSync(r.pidFile)) try { process.kill(Number(readFileSync(r.pidFile, 'utf8')), 'SIGKILL') } catch { /* gone */ }
      try { process.kill(-r.child.pid!, 'SIGKILL') } catch { /* gone */ }
    }
    await r.exited
  }
  await Promise.all(daemons.splice(0).map((stop) => stop()))
})

async function until(what: string, check: () => boolean, tries = 600): Promise<void> {
  for (let i = 0; i < tries && !check(); i++) await new Promise((r) => setTimeout(r, 100))
  expect(check(), what).toBe(true)
}

/** keygen, a 20 MB source: enough bytes for several bar frames, written once per test. */
async function packable(): Promise<{ dir: string, src: string, key: string }> {
  const dir = tempDir()
  const src = join(dir, 'src')
  writeTree(src, { 'install.wim': pseudoRandomBytes(20_000_000, 7) })
  expect((await peerstage(['keygen', '--out', join(dir, 'keys')])).code).toBe(0)
  return { dir, src, key: join(dir, 'keys', 'publisher.key') }
}

const node = `${q(process.execPath)} ${q(BIN)}`

describe.skipIf(!hasScript)('on a terminal (a real pty through script)', () => {
  it('pack draws its bar in place on the terminal, with no rate on its first frame', async () => {
    const { dir, src, key } = await packable()
    const run = onTerminal(`exec ${node} pack ${q(src)} --name win11 --version 1 --key ${q(key)} --out ${q(join(dir, 'm.json'))}`)
    expect(await run.exited).toBe(0)
    const frames = run.output().split('\r\x1b[K').slice(1)
    expect(frames.length).toBeGreaterThan(0)
    expect(frames[0]).toMatch(/^packing \[[#-]{24}\] [\d.]+% [\d.]+ \S+\/19\.1 MiB --\/s ETA --/)
    expect(run.output()).toMatch(/packed win11@1: 1 file\(s\), 19\.1 MiB/)
  })

  it('pack draws no bar when its stderr is not the terminal, nor in the background of the terminal', async () => {
    const { dir, src, key } = await packable()
    const args = `pack ${q(src)} --name win11 --version 1 --key ${q(key)}`
    const piped = onTerminal(`exec ${node} ${args} --out ${q(join(dir, 'a.json'))} 2>${q(join(dir, 'stderr.txt'))}`)
    expect(await piped.exited).toBe(0)
    expect(readFileSync(join(dir, 'stderr.txt'), 'utf8')).toBe('')
    expect(piped.output()).toMatch(/packed win11@1/) // stdout still on the terminal
    // `set -m`: job control, as in an interactive shell, so `&` puts the job in its own process group.
    const background = onTerminal(`set -m; ${node} ${args} --out ${q(join(dir, 'b.json'))} & wait $!`)
    expect(await background.exited).toBe(0)
    expect(background.output()).toMatch(/packed win11@1/)
    expect(background.output()).not.toContain('packing [')
  })

  it('logs one readable line per entry on the terminal, and JSON lines with --json', async () => {
    const config = join(tempDir(), 'tracker.yaml')
    writeFileSync(config, ISSUE_YAML.replace('127.0.10.10:7070', '127.0.10.10:0'))
    const tracker = startDaemon(['tracker', '--config', config, '--json'])
    daemons.push(tracker.stop)
    const url = (await tracker.ready).url as string
    const dir = tempDir()
    expect((await peerstage(['swarm-key', '--out', join(dir, 'swarm.key')])).code).toBe(0)
    const dp = (data: string, json: string): string => `PEERSTAGE_LOG_LEVEL=info exec ${node} dp --data ${q(join(dir, data))} --swarm-key ${q(join(dir, 'swarm.key'))} ` +
      `--listen /ip4/127.0.10.31/tcp/0 --dial-from 127.0.10.31 --tracker ${url} --dp-token dp-s3cret ${json}`

    for (const json of ['', '--json']) {
      const run = onTerminal(dp(`dp${json}`, json), { NO_COLOR: '' }) // colour on, whatever the environment running the tests says
      await until('the DP logs its budgets', () => run.output().includes('budgets applied'))
      await until('the DP writes its pid', () => existsSync(run.pidFile))
      process.kill(Number(readFileSync(run.pidFile, 'utf8')), 'SIGTERM')
      expect(await run.exited).toBe(0)
      const line = run.output().split(/\r?\n/).find((l) => l.includes('budgets applied'))!
      if (json === '') {
        expect(line).toContain('\x1b[32mINFO \x1b[0m') // the level in colour
        expect(line.replace(/\x1b\[\d+m/g, '')).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}\[announcer\] budgets applied {2}version=\d+$/)
      } else {
        expect(JSON.parse(line)).toMatchObject({ level: 30, module: 'announcer', msg: 'budgets applied', time: expect.any(Number) })
      }
    }
  })
})
