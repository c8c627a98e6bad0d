/**
 * The README's shell blocks, run as a reader pastes them: every ```sh block of README.md, in
 * order, in one bash with job control (as an interactive shell has it: each background job is
 * its own process group), in a fresh directory holding links to the checkout, where
 * `npx peerstage` resolves to the checkout (npm's cache is the run's own). Times are
 * shortened by the substitutions in SHORTER, each of which must still match the README. Each block must end with status 0
 * within its bound and print what the README says it prints (EXPECTED); afterwards nothing
 * the blocks started may still run, since the README's last block says it stops them all.
 */
import { spawn, execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { readmeShellBlocks, type ShellBlock } from './helpers/readme-blocks.ts'

const CHECKOUT = fileURLToPath(new URL('..', import.meta.url))
const README = readFileSync(join(CHECKOUT, 'README.md'), 'utf8')

/**
 * Shorter runs of the same steps: smaller sample packages, a nearer mandatoryAt, less jitter;
 * and `peerstage` as `npm link` makes it (a link to bin/peerstage.js on PATH, see "Set up")
 * instead of `npx peerstage`, except in the first block: npm spends ~2.5 CPU-s on each npx
 * before the command starts, most of this run's CPU when it ran every command so.
 */
const SHORTER: Array<{ readme: string, test: string, exceptIn?: string }> = [
  { readme: 'head -c 8M /dev/urandom', test: 'head -c 2M /dev/urandom' },
  { readme: 'head -c 32M /dev/urandom', test: 'head -c 4M /dev/urandom' },
  { readme: "date -u -d '+2 min'", test: "date -u -d '+20 sec'" },
  { readme: '--jitter 30', test: '--jitter 3' },
  { readme: 'npx peerstage ', test: 'peerstage ', exceptIn: 'npx peerstage diff win11@24H2' },
]

/** What a block prints when it did its work, as the README's text around it says; keyed by a line of the block. */
const EXPECTED: Array<{ block: string, output: RegExp[] }> = [
  { block: 'npx peerstage diff win11@24H2', output: [/^OK win11@24H2: 2 file\(s\)/m, /^ {2}to fetch: .*\(1 chunks\)$/m] },
  { block: '--publish win11@24H2.manifest.json --source ./win11 > dp-peer.log', output: [/^fetched win11@24H2 into \/.*\/staged: .* verified/m] },
  { block: 'timezone: Europe/London', output: [/^site leeds \(Europe\/London\)$/m, /3 client\(s\)/] },
  { block: 'mkdir demo && cd demo', output: [/^deployment d-[0-9a-f]+: win11@24H2, program install$/m] },
  { block: 'until [ "$(cat ran.txt', output: [/^ {2}clients {4}6 succeeded$/m, /^(d-[0-9a-f]+ ran in .*\n){6}/m] },
]

/**
 * A block's bound, against a hang only: on a quiet 2-core machine the blocks take ~5–40 s
 * each, but a loaded one (the full suite, other jobs) can be five times slower.
 */
const BLOCK_SECONDS = 240
const LONG_BLOCK_SECONDS = 300
const MARK = '@@readme-block'

interface BlockRun { block: ShellBlock, output: string, ended: boolean, seconds: number }

/** The live processes of a session (the bash below is its leader); zombies wait for a reaper, they run nothing. */
function sessionProcesses(sid: number): number[] {
  const out = execFileSync('ps', ['-e', '-o', 'pid=,sid=,stat='], { encoding: 'utf8' })
  return out.split('\n').map((l) => l.trim().split(/\s+/)).filter(([pid, s, stat]) => Number(s) === sid && Number(pid) > 0 && !stat!.startsWith('Z')).map(([pid]) => Number(pid))
}

function killAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try { process.kill(pid, signal) } catch { /* already gone */ }
  }
}

/** Runs the blocks in one bash; resolves when bash exits or a block overruns its bound. */
async function runBlocks(blocks: ShellBlock[], dir: string): Promise<{ runs: BlockRun[], exitCode: number | null, leftBehind: number[] }> {
  const work = join(dir, 'checkout')
  mkdirSync(work)
  // The checkout's files as links: the blocks write their data here, never into the checkout.
  for (const name of readdirSync(CHECKOUT)) if (!['.git', 'dist', 'test-results'].includes(name)) symlinkSync(join(CHECKOUT, name), join(work, name))
  const driver = ['set -m -e -o pipefail', 'exec 2>&1']
  blocks.forEach((b, i) => {
    writeFileSync(join(dir, `block-${i}.sh`), b.code)
    driver.push(`echo "${MARK} ${i} begin"`, `. "${join(dir, `block-${i}.sh`)}"`, `echo "${MARK} ${i} end"`)
  })
  writeFileSync(join(dir, 'driver.sh'), `${driver.join('\n')}\n`)
  const linked = join(dir, 'bin')
  mkdirSync(linked)
  symlinkSync(join(CHECKOUT, 'bin/peerstage.js'), join(linked, 'peerstage'))
  const env = {
    ...process.env,
    PATH: `${linked}:${join(CHECKOUT, 'node_modules/.bin')}:${process.env.PATH ?? ''}`,
    // npx installs the checkout into its cache's _npx/: a cache of this run's own, removed with it.
    npm_config_cache: join(dir, 'npm-cache'),
    npm_config_update_notifier: 'false',
    NODE_COMPILE_CACHE: join(dir, 'compile-cache'),
  }
  const bash = spawn('bash', [join(dir, 'driver.sh')], { cwd: work, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  const sid = bash.pid!
  const runs: BlockRun[] = []
  let pending = ''
  let timer: NodeJS.Timeout | undefined
  const arm = (i: number): void => {
    clearTimeout(timer)
    const seconds = blocks[i]!.code.includes('until [ "$(cat ran.txt') ? LONG_BLOCK_SECONDS : BLOCK_SECONDS
    timer = setTimeout(() => killAll(sessionProcesses(sid), 'SIGKILL'), seconds * 1000)
  }
  const onText = (text: string): void => {
    pending += text
    let nl
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl)
      pending = pending.slice(nl + 1)
      const mark = line.startsWith(MARK) ? line.slice(MARK.length + 1).split(' ') : undefined
      if (mark?.[1] === 'begin') {
        runs.push({ block: blocks[Number(mark[0])]!, output: '', ended: false, seconds: performance.now() })
        arm(Number(mark[0]))
      } else if (mark?.[1] === 'end') {
        const run = runs[runs.length - 1]!
        run.ended = true
        run.seconds = (performance.now() - run.seconds) / 1000
      }
      else if (runs.length > 0) runs[runs.length - 1]!.output += `${line}\n`
    }
  }
  bash.stdout.setEncoding('utf8').on('data', onText)
  bash.stderr.setEncoding('utf8').on('data', onText)
  try {
    const exitCode = await new Promise<number | null>((resolve) => bash.on('close', (code) => resolve(code)))
    onText('\n')
    // What the README stopped may take a moment to close its sockets and exit.
    for (let i = 0; i < 50 && sessionProcesses(sid).length > 0; i++) await new Promise((r) => setTimeout(r, 100))
    return { runs, exitCode, leftBehind: sessionProcesses(sid) }
  } finally {
    clearTimeout(timer)
    // Whatever a failed block left running: every process of the session, the npx-less
    // grandchildren npm leaves behind included (they keep the session id).
    killAll(sessionProcesses(sid), 'SIGTERM')
    for (let i = 0; i < 50 && sessionProcesses(sid).length > 0; i++) await new Promise((r) => setTimeout(r, 100))
    killAll(sessionProcesses(sid), 'SIGKILL')
  }
}

function shortened(block: ShellBlock): ShellBlock {
  let code = block.code
  for (const { readme, test, exceptIn } of SHORTER) if (exceptIn === undefined || !code.includes(exceptIn)) code = code.split(readme).join(test)
  return { ...block, code }
}

describe('README shell blocks', () => {
  const blocks = readmeShellBlocks(README)

  it('are the ones this test knows: each shortening and each expected output names a block', () => {
    for (const { readme } of SHORTER) expect(blocks.some((b) => b.code.includes(readme)), readme).toBe(true)
    for (const { block } of EXPECTED) expect(blocks.filter((b) => b.code.includes(block)), block).toHaveLength(1)
  })

  it('run as pasted, in order, each ending well and printing what the README says', { timeout: 1_200_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'peerstage-readme-'))
    try {
      const { runs, exitCode, leftBehind } = await runBlocks(blocks.map(shortened), dir)
      // How long each took, for whoever shortens them next.
      console.info(runs.map((r) => `README.md line ${r.block.line}: ${r.ended ? `${r.seconds.toFixed(1)} s` : 'did not finish'}`).join('\n'))
      const problems: string[] = []
      for (const run of runs) {
        const where = `README.md line ${run.block.line}:\n${run.block.code}--- printed:\n${run.output.slice(-4000)}`
        if (!run.ended) problems.push(`the block did not finish (bash exit ${exitCode}, or over its time bound): ${where}`)
        else for (const pattern of EXPECTED.find((e) => run.block.code.includes(e.block))?.output ?? []) if (!pattern.test(run.output)) problems.push(`no ${pattern} in what ${where}`)
      }
      expect(problems.join('\n\n')).toBe('')
      expect(runs.length, 'every block ran').toBe(blocks.length)
      expect(exitCode).toBe(0)
      expect(leftBehind, 'processes still running after the README stopped them all').toEqual([])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
