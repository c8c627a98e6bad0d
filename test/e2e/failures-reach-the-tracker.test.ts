import { execFileSync, type ChildProcess } from 'node:child_process'
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { cliPack, freePort, peerstage, spawnCli, startDaemon, startTestTracker } from '../helpers/cli.ts'
import { canMountTmpfs } from '../helpers/files.ts'
import { writeTree } from '../helpers/packages.ts'
import { pseudoRandomBytes, tempDir } from '../helpers/tmp.ts'

/**
 * Issue 20, with real processes: a fetch and a DP started before their tracker wait for it
 * (said once), a fetch gives up after --tracker-timeout, and what keeps a node from its work
 * (another swarm key, a full disk, falling silent) reaches `status` and `deploy show`, each
 * node shown by name, peer id, address and version.
 */

/** This build's version, as every node announces it (package.json). */
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
const V = VERSION.replace(/\./g, '\\.')

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** A child the test ends (SIGTERM, then waits for it), whatever happens. */
function track(child: ChildProcess): { child: ChildProcess, stderr: () => string, exited: Promise<number> } {
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString() })
  child.stdout!.resume()
  const exited = new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? 1)))
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await exited
  })
  return { child, stderr: () => stderr, exited }
}

/** Polls `check` (every 200 ms, at most `timeoutMs`) until it returns something other than undefined. */
async function eventually<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 60_000): Promise<T> {
  const started = Date.now()
  for (;;) {
    const got = await check()
    if (got !== undefined) return got
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

/** A 2 MB package with a program, its keys, two swarm keys (a: the estate's, b: another). */
async function material() {
  const dir = tempDir()
  const src = join(dir, 'src')
  writeTree(src, { 'install.wim': pseudoRandomBytes(2_000_000, 20), 'setup.sh': '#!/bin/sh\nexit 0\n' })
  const manifest = await cliPack(dir, src, { version: '1', program: 'install=./setup.sh', out: 'pkg.json' })
  for (const k of ['a.key', 'b.key']) expect((await peerstage(['swarm-key', '--out', join(dir, k)])).code).toBe(0)
  return { dir, src, manifest }
}

describe('a fetch and a DP started before their tracker (real processes)', () => {
  it('fetch gives up after --tracker-timeout in one sentence, having said once that it waits', async () => {
    const { dir, manifest } = await material()
    const port = await freePort('127.0.14.10')
    const r = await peerstage(['fetch', manifest, '--out', join(dir, 'out'), '--swarm-key', join(dir, 'a.key'), '--tracker', `http://127.0.14.10:${port}`,
      '--listen', '/ip4/127.0.14.2/tcp/0', '--dial-from', '127.0.14.2', '--tracker-timeout', '2'])
    expect(r.code).toBe(1)
    const lines = r.stderr.trim().split('\n')
    expect(lines).toHaveLength(2)
    expect(lines[0]).toMatch(/^peerstage fetch: cannot reach the tracker at http:\/\/127\.0\.14\.10:\d+: ECONNREFUSED.*; trying again every 1 s, for up to 2 s \(--tracker-timeout\)$/)
    expect(lines[1]).toMatch(/^peerstage fetch: no tracker answered within 2 s \(--tracker-timeout\): cannot reach the tracker .*is it running, and is the URL right\?$/)
    const j = await peerstage(['fetch', manifest, '--out', join(dir, 'out'), '--swarm-key', join(dir, 'a.key'), '--tracker', `http://127.0.14.10:${port}`,
      '--listen', '/ip4/127.0.14.2/tcp/0', '--dial-from', '127.0.14.2', '--tracker-timeout', '0', '--json'])
    expect(j.code).toBe(1)
    expect(JSON.parse(j.stdout).error).toMatchObject({ code: 'PEERSTAGE_TRACKER_UNREACHABLE' })
  }, 120_000)

  it('a DP and a fetch both wait for a tracker that starts after them, then the fetch completes', async () => {
    const { dir, src, manifest } = await material()
    const port = await freePort('127.0.14.10')
    const url = `http://127.0.14.10:${port}`
    const dp = track(spawnCli(['dp', '--data', join(dir, 'dp'), '--swarm-key', join(dir, 'a.key'), '--listen', '/ip4/127.0.14.1/tcp/0', '--dial-from', '127.0.14.1',
      '--publish', manifest, '--source', src, '--tracker', url, '--dp-token', 'dp-s3cret', '--name', 'dc-dp-1', '--json']))
    const fetch = track(spawnCli(['fetch', manifest, '--out', join(dir, 'out'), '--swarm-key', join(dir, 'a.key'), '--tracker', url,
      '--listen', '/ip4/127.0.14.2/tcp/0', '--dial-from', '127.0.14.2', '--tracker-timeout', '120', '--name', 'pc-2']))
    // Both have found the tracker down, and said so; neither exited.
    await eventually(async () => (/trying again/.test(dp.stderr()) && /trying again/.test(fetch.stderr()) ? true : undefined), 'both to say they wait for the tracker')
    expect(dp.child.exitCode).toBeNull()
    await startTestTracker(dir, { listen: `127.0.14.10:${port}`, sites: [{ name: 'dc', subnets: ['127.0.14.0/24'] }] }, (stop) => cleanups.push(stop))
    expect(await fetch.exited).toBe(0)
    expect(fetch.stderr().match(/trying again/g)).toHaveLength(1) // said once, not at every try
    const status = await eventually(async () => {
      const s = await peerstage(['status', '--tracker', url])
      return /dc-dp-1 .* dp +\d+\.\d+\.\d+\S* +online/.test(s.stdout) ? s.stdout : undefined
    }, 'the DP to be registered')
    expect(status).toMatch(new RegExp(`\\n {4}dc-dp-1 +\\S+ +127\\.0\\.14\\.1 +dp +${V} +online`))
    expect(dp.stderr().match(/trying again/g)).toHaveLength(1)
    expect(dp.child.exitCode).toBeNull()
  }, 240_000)
})

describe('what keeps a node from its work reaches status and deploy show (real processes)', () => {
  it('names a wrong swarm key, a full disk and a node gone silent, each beside the node\'s name, address and version', async () => {
    const { dir, src, manifest } = await material()
    const diskFull = canMountTmpfs()
    const sites = ['dc', 'leeds', 'york', 'hull', 'selby'].map((name, i) => ({ name, subnets: [`127.0.${15 + i}.0/24`] }))
    const { url } = await startTestTracker(dir, { listen: '127.0.15.10:0', sites, lines: ['trust: [keys/publisher.pub]'] }, (stop) => cleanups.push(stop))
    const dp = startDaemon(['dp', '--data', join(dir, 'dp'), '--swarm-key', join(dir, 'a.key'), '--listen', '/ip4/127.0.15.1/tcp/0', '--dial-from', '127.0.15.1',
      '--publish', manifest, '--source', src, '--tracker', url, '--dp-token', 'dp-s3cret', '--name', 'dc-dp-1', '--json'])
    cleanups.push(dp.stop)
    await dp.ready
    const client = (name: string, ip: string, key: string, data = join(dir, name)) => startDaemon(['client', '--tracker', url, '--data', data, '--swarm-key', join(dir, key),
      '--trust', join(dir, 'keys/publisher.pub'), '--listen', `/ip4/${ip}/tcp/0`, '--dial-from', ip, '--name', name, '--json'])
    const good = client('leeds-pc-1', '127.0.16.1', 'a.key')
    cleanups.push(good.stop)
    const wrongKey = client('york-pc-1', '127.0.17.1', 'b.key')
    cleanups.push(wrongKey.stop)
    if (diskFull) {
      // A 1 MiB file system for a 2 MB package: the client's data directory is full before it starts.
      const small = join(dir, 'hull-pc-1')
      mkdirSync(small)
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', small])
      cleanups.push(() => { execFileSync('umount', ['-l', small]) })
      const full = client('hull-pc-1', '127.0.18.1', 'a.key', small)
      cleanups.push(full.stop)
      await full.ready
      // Room in DATA, but its staging/ fills mid-download: pieces cannot be written.
      const staging = join(dir, 'selby-pc-1', 'staging')
      mkdirSync(staging, { recursive: true })
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', staging])
      cleanups.push(() => { execFileSync('umount', ['-l', staging]) })
      const filling = client('selby-pc-1', '127.0.19.1', 'a.key')
      cleanups.push(filling.stop)
      await filling.ready
    }
    await Promise.all([good.ready, wrongKey.ready])
    const now = Date.now()
    const created = await peerstage(['deploy', 'create', '--tracker', url, '--token', 's3cret', '--manifest', manifest, '--program', 'install',
      '--target', 'site:leeds', '--target', 'site:york', '--target', 'site:hull', '--target', 'site:selby', '--available', new Date(now).toISOString(), '--mandatory', new Date(now + 3600_000).toISOString(), '--json'])
    expect(created.code).toBe(0)
    const id = JSON.parse(created.stdout).id as string
    const clientsOf = (s: any): any[] => s.status.sites.flatMap((site: any) => site.subnets.flatMap((n: any) => n.clients))
    const show = async (): Promise<any> => JSON.parse((await peerstage(['deploy', 'show', id, '--tracker', url, '--json'])).stdout)

    // The wrong key: the client sits at 0 %, and says why.
    const stuck = await eventually(async () => clientsOf(await show()).find((c) => c.node?.name === 'york-pc-1' && c.node.problem !== null), 'york-pc-1 to report its problem', 120_000)
    expect(stuck).toMatchObject({ state: 'downloading', progress: 0, node: { address: '127.0.17.1', version: VERSION, presence: 'online', problem: { code: 'PEERSTAGE_NODE_SWARM_KEY_MISMATCH', message: expect.stringMatching(/^cannot join any peer handed out for win11@1: .*different swarm keys/) } } })
    // The good one gets there.
    await eventually(async () => (clientsOf(await show()).some((c) => c.node?.name === 'leeds-pc-1' && c.state === 'verified') ? true : undefined), 'leeds-pc-1 to verify the package', 120_000)
    if (diskFull) {
      const full = clientsOf(await show()).find((c) => c.node?.name === 'hull-pc-1')
      expect(full).toMatchObject({ state: 'failed', reason: expect.stringMatching(/^not enough disk space: needs /), node: { problem: { code: 'PEERSTAGE_NODE_STORE_DISK_FULL', message: expect.stringContaining('not enough disk space') } } })
      const filled = await eventually(async () => clientsOf(await show()).find((c) => c.node?.name === 'selby-pc-1' && c.node.problem !== null), 'selby-pc-1 to report its full disk', 120_000)
      expect(filled.node.problem).toMatchObject({ code: 'PEERSTAGE_NODE_STORE_DISK_FULL', message: expect.stringMatching(/^cannot write win11@1: .*disk is full/) })
    } else {
      console.log('skipped the full-disk client: this process may not mount a tmpfs (needs root)')
    }

    // For people: one line per client with name, peer id, address, version, and the problem.
    const text = (await peerstage(['deploy', 'show', id, '--tracker', url])).stdout
    expect(text).toMatch(new RegExp(`\\n {6}york-pc-1 {2}\\S+ {2}127\\.0\\.17\\.1 {2}${V} {2}downloading 0%; problem: cannot join any peer handed out for win11@1: .*different swarm keys.* \\(PEERSTAGE_NODE_SWARM_KEY_MISMATCH\\)\\n`))
    expect(text).toMatch(new RegExp(`\\n {6}leeds-pc-1 {2}\\S+ {2}127\\.0\\.16\\.1 {2}${V} {2}verified 100%\\n`))
    if (diskFull) expect(text).toMatch(/\n {6}hull-pc-1 .* failed 0%: not enough disk space: .*; problem: .*\(PEERSTAGE_NODE_STORE_DISK_FULL\)\n/)
    const status = (await peerstage(['status', '--tracker', url])).stdout
    expect(status).toMatch(new RegExp(`\\n {4}york-pc-1 +\\S+ +127\\.0\\.17\\.1 +client +${V} +online +problem: cannot join .*\\(PEERSTAGE_NODE_SWARM_KEY_MISMATCH\\)\\n`))
    expect(status).toMatch(new RegExp(`\\n {4}dc-dp-1 +\\S+ +127\\.0\\.15\\.1 +dp +${V} +online\\n`))
    expect(status).toMatch(/ {4}win11@1 {2}WAN /) // packages by name, not by a cut id

    // Killed without a word: offline past its registration (3 announce intervals), with when it was last seen.
    await good.kill()
    const gone = await eventually(async () => clientsOf(await show()).find((c) => c.node?.name === 'leeds-pc-1' && c.node.presence === 'offline'), 'leeds-pc-1 to show offline', 30_000)
    expect(Date.parse(gone.node.lastSeenAt)).toBeGreaterThan(now)
    const after = (await peerstage(['deploy', 'show', id, '--tracker', url])).stdout
    expect(after).toContain(`verified 100%; offline, last seen ${gone.node.lastSeenAt}`)
    expect((await peerstage(['status', '--tracker', url])).stdout).toMatch(new RegExp(`\\n {4}leeds-pc-1 +\\S+ +127\\.0\\.16\\.1 +client +${V} +offline, last seen ${gone.node.lastSeenAt.replace(/\./g, '\\.')}`))
  }, 300_000)
})

describe('peerstage --version', () => {
  it('prints the version from package.json and the Node running it; --json as one document', async () => {
    const r = await peerstage(['--version'])
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(`peerstage ${VERSION} (node ${process.version})\n`)
    const j = await peerstage(['--version', '--json'])
    expect(JSON.parse(j.stdout)).toEqual({ version: VERSION, node: process.version })
  })
})
