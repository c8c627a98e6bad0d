import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { createServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect } from 'vitest'
import { sampleTree, writeTree } from './packages.ts'
import { pseudoRandomBytes, tempDir } from './tmp.ts'

// PEERSTAGE_BIN=dist/peerstage.mjs runs these tests against the bundle (npm run build).
const BIN = process.env.PEERSTAGE_BIN ?? fileURLToPath(new URL('../../bin/peerstage.ts', import.meta.url))

export interface CliResult {
  code: number
  stdout: string
  stderr: string
}

/** Runs the real CLI in a child process (the same Node as the tests). */
export function peerstage(args: string[], options: { cwd?: string, bin?: string } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [options.bin ?? BIN, ...args], { cwd: options.cwd, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1
      resolve({ code, stdout, stderr })
    })
  })
}

/**
 * A long-running CLI process (dp, tracker, fetch --seed-for): resolves with its first JSON
 * document on stdout (one line, or pretty-printed over several).
 */
export function startDaemon(args: string[], bin = BIN): { ready: Promise<Record<string, any>>, stop: () => Promise<void>, kill: () => Promise<void> } {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
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
  const end = async (signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((r) => child.once('exit', r))
    child.kill(signal)
    await exited
  }
  return { ready, stop: () => end('SIGTERM'), kill: () => end('SIGKILL') }
}

/** Starts the CLI and returns the child, for tests that kill it. */
export function spawnCli(args: string[]): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
}

/**
 * `keygen` into DIR/KEYS and `pack` SRC as win11@VERSION signed with that key, through the
 * real CLI. Returns the manifest's path (DIR/OUT).
 */
export async function cliPack(dir: string, src: string, options: { keys?: string, version?: string, program?: string, out?: string } = {}): Promise<string> {
  const keys = join(dir, options.keys ?? 'keys')
  const manifest = join(dir, options.out ?? 'win11.json')
  for (const args of [
    ['keygen', '--out', keys],
    ['pack', src, '--name', 'win11', '--version', options.version ?? '24H2', '--key', join(keys, 'publisher.key'), ...(options.program === undefined ? [] : ['--program', options.program]), '--out', manifest],
  ]) {
    const r = await peerstage(args)
    if (r.code !== 0) throw new Error(`peerstage ${args[0]} exited ${r.code}: ${r.stderr}`)
  }
  return manifest
}

/** A small package (program `install`) signed by publisher NAME (keys in DIR/NAME-keys): DIR/NAME.json. */
export function cliSmallPackage(dir: string, name: string): Promise<string> {
  writeTree(join(dir, `${name}-src`), { 'setup.cmd': '@echo off\r\n', 'install.wim': 'x'.repeat(100_000) })
  return cliPack(dir, join(dir, `${name}-src`), { keys: `${name}-keys`, program: 'install=setup.cmd /unattend', out: `${name}.json` })
}

/**
 * A tracker process of `config` (YAML; its listen address becomes 127.0.10.10:0) trusting
 * publisher `imaging`, with a small package signed by `imaging` and one by `stranger`.
 * `onStop` gets the daemon's stop, for the test's cleanup.
 */
export async function cliTrackerWithPackages(config: string, onStop: (stop: () => Promise<void>) => void): Promise<{ dir: string, manifest: string, untrusted: string, url: string }> {
  const dir = tempDir()
  const manifest = await cliSmallPackage(dir, 'imaging')
  const untrusted = await cliSmallPackage(dir, 'stranger')
  writeFileSync(join(dir, 'tracker.yaml'), `${config.replace(/^listen: .*\n/m, '')}\nlisten: 127.0.10.10:0\ntrust: [imaging-keys/publisher.pub]\n`)
  const t = startDaemon(['tracker', '--config', join(dir, 'tracker.yaml'), '--json'])
  onStop(t.stop)
  return { dir, manifest, untrusted, url: (await t.ready).url as string }
}

/** A site of a test tracker's config: its subnets, and its `wan:` policy as YAML flow text. */
export interface TestSite {
  name: string
  subnets: string[]
  wan?: string
}

/**
 * A tracker process for an end-to-end test: DIR/tracker.yaml with the tests' tokens (admin
 * `s3cret`, dpToken `dp-s3cret`), announces every second, these sites and `lines` (more
 * top-level keys, e.g. `trust: [keys/publisher.pub]`); started with --json. `onStop` gets
 * the daemon's stop, for the test's cleanup.
 */
export async function startTestTracker(dir: string, init: { listen: string, sites: TestSite[], lines?: string[] }, onStop: (stop: () => Promise<void>) => void): Promise<{ url: string }> {
  const sites = init.sites.map((x) => `  - name: ${x.name}\n    subnets: [${x.subnets.join(', ')}]\n${x.wan === undefined ? '' : `    wan: ${x.wan}\n`}`).join('')
  writeFileSync(join(dir, 'tracker.yaml'), `listen: ${init.listen}\nadminToken: s3cret\ndpToken: dp-s3cret\nannounceIntervalSeconds: 1\n${(init.lines ?? []).map((l) => `${l}\n`).join('')}sites:\n${sites}`)
  const tracker = startDaemon(['tracker', '--config', join(dir, 'tracker.yaml'), '--json'])
  onStop(tracker.stop)
  return { url: (await tracker.ready).url as string }
}

/** Keys, a 12 MB package (the sample tree and an install.esd), a swarm key, and a DP process seeding it, listening on `ip`. */
export async function cliDpWithSamplePackage(ip: string, onStop: (stop: () => Promise<void>) => void): Promise<{ dir: string, src: string, manifest: string, dpAddress: string }> {
  const dir = tempDir()
  const src = join(dir, 'src')
  sampleTree(src)
  writeTree(src, { 'sources/install.esd': pseudoRandomBytes(12_000_000, 99) })
  expect((await peerstage(['keygen', '--out', join(dir, 'keys')])).code).toBe(0)
  const manifest = join(dir, 'pkg.json')
  expect((await peerstage(['pack', src, '--name', 'win11', '--version', '1', '--key', join(dir, 'keys/publisher.key'), '--out', manifest])).code).toBe(0)
  expect((await peerstage(['swarm-key', '--out', join(dir, 'swarm.key')])).code).toBe(0)
  const dp = startDaemon(['dp', '--data', join(dir, 'dp'), '--swarm-key', join(dir, 'swarm.key'), '--listen', `/ip4/${ip}/tcp/0`, '--publish', manifest, '--source', src, '--json'])
  onStop(dp.stop)
  const info = await dp.ready
  return { dir, src, manifest, dpAddress: info.addresses[0] as string }
}

/** A TCP port free on `host` now (for a --metrics-listen the test reads). */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, host, () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
}

/** A node's verified-pieces counter from its metrics endpoint (0 until it serves). */
export function piecesVerified(metricsUrl: string): Promise<number> {
  return new Promise((resolve) => {
    request(metricsUrl, (res) => {
      let t = ''
      res.on('data', (d: Buffer) => { t += d.toString() })
      res.on('end', () => resolve(Number(/peerstage_node_pieces_verified_total (\d+)/.exec(t)?.[1] ?? 0)))
    }).on('error', () => resolve(0)).end()
  })
}

/** Whether every path is byte-identical under both roots. */
export const sameTree = (a: string, b: string, paths: string[]): boolean => paths.every((p) => readFileSync(join(a, p)).equals(readFileSync(join(b, p))))
