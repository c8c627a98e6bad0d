import { createHash } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { generatePublisherKeys, loadPrivateKey, loadPublicKey, pack, publisherOf, type PackResult } from '../../chunker/index.ts'
import { createClient, createDp, type PeerNode } from '../../node/index.ts'
import { saveRecord, type DeploymentRecord } from '../../node/client/records.ts'
import { startAt } from '../../node/client/index.ts'
import { createTrackerConfig, MemoryTrackerStore, Tracker, TrackerClient, type DeploymentOffer, type DeploymentState } from '../../tracker/index.ts'
import { FakeClock, signingNow } from '../helpers/fake-clock.ts'
import { newSwarmKey, on } from '../helpers/nodes.ts'
import { writeTree } from '../helpers/packages.ts'
import { pseudoRandomBytes, tempDir } from '../helpers/tmp.ts'
import { until } from '../helpers/until.ts'
import { serveTracker } from '../tracker/helpers.ts'

/** Friday 2026-11-27 18:00 UTC: the deployments below are available from 20:00. */
const FRIDAY_1800 = Date.UTC(2026, 10, 27, 18, 0, 0)
const HOUR = 3600_000
const at = (ms: number): string => new Date(FRIDAY_1800 + ms).toISOString()

/** Appends "deployment sha256-of-install.wim cwd" to $PEERSTAGE_TEST_MARKER: what ran, on which bytes, where. */
const INSTALL_SH = '#!/bin/sh\necho "$PEERSTAGE_DEPLOYMENT $PEERSTAGE_PACKAGE@$PEERSTAGE_VERSION $(sha256sum install.wim | cut -d" " -f1) $(pwd)" >> "$PEERSTAGE_TEST_MARKER"\necho installed\n'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** A package with an install program whose output proves which bytes it ran on. */
async function packPackage(dir: string, version: string, privateKeyPath: string, seed: number): Promise<PackResult & { src: string, wimHash: string }> {
  const src = join(dir, `src-${version}`)
  const wim = pseudoRandomBytes(3_000_000, seed)
  writeTree(src, { 'install.wim': wim, 'install.sh': INSTALL_SH, 'slow.sh': '#!/bin/sh\necho started\nsleep 30\n', 'hang.sh': '#!/bin/sh\necho hanging\nsleep 600\n', 'drivers/net.inf': `[Version] ${version}\n` })
  for (const script of ['install.sh', 'slow.sh', 'hang.sh']) chmodSync(join(src, script), 0o755)
  const programs = [{ name: 'install', command: './install.sh', args: [] }, { name: 'slow', command: 'slow.sh', args: [] }, { name: 'hang', command: 'hang.sh', args: [] }]
  const result = await pack(src, { name: 'win11', version, privateKey: loadPrivateKey(privateKeyPath), programs })
  return { ...result, src, wimHash: createHash('sha256').update(wim).digest('hex') }
}

/**
 * A tracker (fake wall clock) with site leeds = 127.0.1.0/24 and york = 127.0.2.0/24, a DP
 * on 127.0.10.1 seeding win11@24H2, and clients made on demand.
 */
async function world(options: { dpRate?: number } = {}) {
  const dir = tempDir()
  const clock = new FakeClock()
  const now = (): Date => new Date(FRIDAY_1800 + clock.nowMs())
  const signAt = signingNow(now)
  const keys = generatePublisherKeys(join(dir, 'keys'))
  const trusted = [publisherOf(loadPublicKey(keys.publicKeyPath))]
  const marker = join(dir, 'marker.txt')
  process.env.PEERSTAGE_TEST_MARKER = marker
  const tracker = await Tracker.start(createTrackerConfig({
    adminToken: 'admin', dpToken: 'dp', announceIntervalSeconds: 1, registrationSeconds: 30 * 24 * 3600, leaseSeconds: 30 * 24 * 3600,
    trust: [keys.publicKeyPath],
    sites: [{ name: 'dc', subnets: ['127.0.10.0/24'] }, { name: 'leeds', subnets: ['127.0.1.0/24'], wan: { maxWanClients: 8 } }, { name: 'york', subnets: ['127.0.2.0/24'] }],
  }), { store: new MemoryTrackerStore(), now, clock })
  const { app, url } = await serveTracker(tracker)
  const admin = new TrackerClient({ url, token: 'admin' })
  cleanups.push(async () => {
    admin.close()
    await app.close()
    await tracker.stop()
  })
  const swarmKey = newSwarmKey(dir)
  const v1 = await packPackage(dir, '24H2', keys.privateKeyPath, 61)

  const dpService = await createDp({
    dataDir: join(dir, 'dp'), swarmKey, ...on('127.0.10.1'), publish: [{ signed: v1, source: v1.src }],
    ...(options.dpRate !== undefined && { uploadLimitBytesPerSec: options.dpRate }),
  }, { tracker: new TrackerClient({ url, token: 'dp', localAddress: '127.0.10.1' }), signAt })
  cleanups.push(() => dpService.stop())
  await dpService.start()
  const dp = dpService.node
  const dpAgent = dpService.announcer!

  const states = new Map<string, DeploymentState[]>()
  async function client(ip: string, init: { trusted?: string[], dataDir?: string, cacheMaxBytes?: number, stopGraceMs?: number } = {}) {
    const dataDir = init.dataDir ?? join(dir, `client-${ip}`)
    const service = await createClient({
      dataDir, swarmKey, ...on(ip), trusted: init.trusted ?? trusted, retryMs: 200,
      ...(init.cacheMaxBytes !== undefined && { cacheMaxBytes: init.cacheMaxBytes }),
      ...(init.stopGraceMs !== undefined && { stopGraceMs: init.stopGraceMs }),
    }, { tracker: new TrackerClient({ url, localAddress: ip }), now, signAt, clock })
    const { node, announcer: agent, deployments } = service
    deployments.on('state', (r) => states.set(`${ip} ${r.offer.id}`, [...(states.get(`${ip} ${r.offer.id}`) ?? []), r.state]))
    let stopped = false
    const stop = async (): Promise<void> => {
      if (stopped) return
      stopped = true
      await service.stop()
    }
    cleanups.push(stop)
    await service.start()
    const stateOf = (id: string): DeploymentState | undefined => deployments.get(id)?.state
    // Reached once saved and announced as an event (a new deployment starts `waiting` without one).
    const reached = (id: string, state: DeploymentState): boolean => stateOf(id) === state && (state === 'waiting' || states.get(`${ip} ${id}`)?.at(-1) === state)
    const reach = (id: string, state: DeploymentState, timeoutMs?: number): Promise<void> => until(() => reached(id, state), `${ip} to reach ${state} (is ${stateOf(id)}: ${deployments.get(id)?.reason ?? ''})`, timeoutMs)
    return { ip, dataDir, node, agent, deployments, stateOf, reach, stop, statesSeen: (id: string) => states.get(`${ip} ${id}`) ?? [] }
  }

  async function deploy(body: { targets: string[], availableAt: string, mandatoryAt: string, expiresAt?: string, jitterSeconds?: number, timeoutSeconds?: number, program?: string }, pkg: PackResult = v1) {
    return admin.createDeployment({ manifest: pkg.canonical, program: 'install', ...body })
  }

  /** Lines the install program appended: one per run. */
  const runs = (): string[] => existsSync(marker) ? readFileSync(marker, 'utf8').trim().split('\n').filter(Boolean) : []

  return { dir, clock, keys, tracker, admin, url, swarmKey, v1, dp, dpAgent, client, deploy, runs, packPackage: (version: string, seed: number) => packPackage(dir, version, keys.privateKeyPath, seed) }
}

type World = Awaited<ReturnType<typeof world>>
type Client = Awaited<ReturnType<World['client']>>

/** The client's readable link to a materialized package: packages/NAME@VERSION → packages/ID. */
const packageDir = (c: Client, version = '24H2'): string => join(c.dataDir, 'packages', `win11@${version}`)
/** Where a package is materialized: by its id. */
const idDir = (c: Client, pkg: PackResult): string => join(c.dataDir, 'packages', pkg.packageId)

describe('a client with a deployment', () => {
  it('waits for availableAt, pre-stages and verifies, then runs the program once at mandatoryAt', async () => {
    const w = await world()
    const leeds = await w.client('127.0.1.1')
    const d = await w.deploy({ targets: ['site:leeds'], availableAt: at(2 * HOUR), mandatoryAt: at(3 * HOUR) })
    leeds.agent.announceNow()
    await leeds.reach(d.id, 'waiting')

    // Before availableAt: nothing fetched, nothing on disk.
    await w.clock.advance(2 * HOUR - 1000)
    await leeds.deployments.tick()
    expect(leeds.stateOf(d.id)).toBe('waiting')
    expect(leeds.node.allSwarms).toHaveLength(0)
    expect(existsSync(join(leeds.dataDir, 'staging'))).toBe(false)

    await w.clock.advance(1000)
    await leeds.reach(d.id, 'verified')
    expect(readFileSync(join(packageDir(leeds), 'install.wim')).equals(readFileSync(join(w.v1.src, 'install.wim')))).toBe(true)
    expect(existsSync(join(leeds.dataDir, 'staging', 'win11@24H2'))).toBe(false)
    expect(w.runs()).toEqual([]) // verified is not run: mandatoryAt is an hour away

    await w.clock.advance(HOUR)
    await leeds.reach(d.id, 'succeeded')
    expect(w.runs()).toEqual([`${d.id} win11@24H2 ${w.v1.wimHash} ${idDir(leeds, w.v1)}`])
    expect(readlinkSync(packageDir(leeds))).toBe(w.v1.packageId)
    const record = leeds.deployments.get(d.id)!
    expect(record.exitCode).toBe(0)
    expect(record.logTail).toContain('installed')
    expect(readFileSync(join(leeds.dataDir, 'logs', `${d.id}.log`), 'utf8')).toContain('installed')
    expect(leeds.statesSeen(d.id)).toEqual(['downloading', 'verified', 'running', 'succeeded'])

    // More time and more answers: never again.
    await w.clock.advance(HOUR)
    leeds.agent.announceNow()
    await leeds.deployments.tick()
    expect(w.runs()).toHaveLength(1)

    // The tracker hears the state, and the metrics count it.
    await until(() => w.tracker.deploymentStatus(d.id).counts.succeeded === 1, 'the tracker to see succeeded')
    const metrics = await leeds.node.metrics.registry.metrics()
    expect(metrics).toMatch(/peerstage_client_deployments\{state="succeeded"\} 1/)
    expect(metrics).toMatch(/peerstage_client_program_exits_total\{code="0"\} 1/)
  })

  it('is only for its targets: a client of another site never hears of it', async () => {
    const w = await world()
    const leeds = await w.client('127.0.1.2')
    const york = await w.client('127.0.2.2')
    const bySite = await w.deploy({ targets: ['site:leeds'], availableAt: at(0), mandatoryAt: at(HOUR) })
    const byClient = await w.deploy({ targets: [`client:${york.node.peerId}`], availableAt: at(0), mandatoryAt: at(HOUR) })
    for (const c of [leeds, york]) c.agent.announceNow()
    await leeds.reach(bySite.id, 'verified')
    await york.reach(byClient.id, 'verified')
    expect(leeds.deployments.get(byClient.id)).toBeUndefined()
    expect(york.deployments.get(bySite.id)).toBeUndefined()
  })

  it('spreads starts by a jitter fixed per client', async () => {
    const offer: DeploymentOffer = { id: 'd-0000abcd', packageId: 'a'.repeat(64), name: 'win11', version: '24H2', program: 'install', availableAt: at(0), mandatoryAt: at(48 * HOUR), expiresAt: null, jitterSeconds: 3600 }
    const starts = Array.from({ length: 200 }, (_, i) => startAt(`12D3KooWPeer${i}`, offer) - FRIDAY_1800)
    expect(starts.every((s) => s >= 0 && s < HOUR)).toBe(true)
    // Spread over the hour: every quarter gets some, none gets most.
    const quarters = [0, 1, 2, 3].map((q) => starts.filter((s) => Math.floor(s / (HOUR / 4)) === q).length)
    for (const n of quarters) expect(n).toBeGreaterThan(25)
    expect(startAt('12D3KooWPeer7', offer)).toBe(startAt('12D3KooWPeer7', offer))
    // Never past mandatoryAt.
    expect(startAt('12D3KooWPeer7', { ...offer, mandatoryAt: at(60_000) })).toBeLessThanOrEqual(FRIDAY_1800 + 60_000)

    const w = await world()
    const c = await w.client('127.0.1.3')
    const d = await w.deploy({ targets: ['site:leeds'], availableAt: at(HOUR), mandatoryAt: at(10 * HOUR), jitterSeconds: 3600 })
    c.agent.announceNow()
    await c.reach(d.id, 'waiting')
    const mine = startAt(c.node.peerId, c.deployments.get(d.id)!.offer) - FRIDAY_1800
    await w.clock.advance(mine - 1000)
    await c.deployments.tick()
    expect(c.stateOf(d.id)).toBe('waiting')
    await w.clock.advance(1000)
    await c.reach(d.id, 'verified')
  })

  it('comes online after mandatoryAt: fetches and runs at once', async () => {
    const w = await world()
    const d = await w.deploy({ targets: ['subnet:127.0.0.0/16'], availableAt: at(0), mandatoryAt: at(HOUR), jitterSeconds: 7200 })
    await w.clock.advance(5 * HOUR)
    const late = await w.client('127.0.1.4')
    await late.reach(d.id, 'succeeded')
    expect(w.runs()).toHaveLength(1)
  })

  it('catches a file changed after verification at mandatoryAt, repairs it, and runs only the good bytes', async () => {
    const w = await world()
    const c = await w.client('127.0.1.5')
    const d = await w.deploy({ targets: ['site:leeds'], availableAt: at(0), mandatoryAt: at(HOUR) })
    c.agent.announceNow()
    await c.reach(d.id, 'verified')
    const wim = join(packageDir(c), 'install.wim')
    const bytes = readFileSync(wim)
    bytes.fill(0x42, 1_000_000, 1_000_100)
    writeFileSync(wim, bytes)

    await w.clock.advance(HOUR)
    await c.reach(d.id, 'succeeded')
    expect(c.statesSeen(d.id)).toEqual(['downloading', 'verified', 'downloading', 'verified', 'running', 'succeeded'])
    expect(c.deployments.get(d.id)!.verifyFailures).toBe(1)
    expect(w.runs()).toEqual([`${d.id} win11@24H2 ${w.v1.wimHash} ${idDir(c, w.v1)}`])
    expect(await c.node.metrics.registry.metrics()).toMatch(/peerstage_client_verification_failures_total 1/)
  })

  it('refuses a package of a publisher it does not trust, with a clear status', async () => {
    const w = await world()
    const stranger = generatePublisherKeys(join(w.dir, 'stranger'))
    const c = await w.client('127.0.1.6', { trusted: [publisherOf(loadPublicKey(stranger.publicKeyPath))] })
    const d = await w.deploy({ targets: ['site:leeds'], availableAt: at(0), mandatoryAt: at(0) })
    c.agent.announceNow()
    await c.reach(d.id, 'failed')
    expect(c.deployments.get(d.id)!.reason).toMatch(/package refused: .*(trust|publisher)/i)
    expect(c.node.allSwarms).toHaveLength(0)
    expect(w.runs()).toEqual([])
  })

  it('stops a deployment that is cancelled or expires before it runs', async () => {
    const w = await world({ dpRate: 256 * 1024 })
    const c = await w.client('127.0.1.7')
    const cancelled = await w.deploy({ targets: ['site:leeds'], availableAt: at(0), mandatoryAt: at(HOUR) })
    c.agent.announceNow()
    await c.reach(cancelled.id, 'downloading')
    await w.admin.cancelDeployment(cancelled.id)
    c.agent.announceNow()
    await c.reach(cancelled.id, 'cancelled')
    // Its partial download is deleted: nothing pending needs it.
    await until(() => !existsSync(join(c.dataDir, 'staging', 'win11@24H2')), 'the partial package to go')
    expect(c.node.allSwarms).toHaveLength(0)
    expect(await c.node.store.getPackage(w.v1.packageId)).toBeUndefined()

    const expiring = await w.deploy({ targets: ['site:leeds'], availableAt: at(2 * HOUR), mandatoryAt: at(3 * HOUR), expiresAt: at(3 * HOUR + 1) })
    c.agent.announceNow()
    await c.reach(expiring.id, 'waiting')
    await w.clock.advance(4 * HOUR)
    await c.reach(expiring.id, 'expired')
    expect(w.runs()).toEqual([])
  })
})

describe('a client restarted', () => {
  it('resumes a download, keeps a verified package, and never runs a program twice', async () => {
    const w = await world({ dpRate: 512 * 1024 })
    const dataDir = join(w.dir, 'restarted')
    let c = await w.client('127.0.1.8', { dataDir })
    const d = await w.deploy({ targets: ['site:leeds'], availableAt: at(0), mandatoryAt: at(HOUR) })
    c.agent.announceNow()
    await c.reach(d.id, 'downloading')
    const swarm = c.node.swarmOf(w.v1.packageId)!
    await until(() => swarm.pkg.have.count() >= 1, 'a first piece')
    await c.stop()

    // downloading → restart: resumes with what it had.
    c = await w.client('127.0.1.8', { dataDir })
    expect(c.stateOf(d.id)).toBe('downloading')
    expect(c.node.swarmOf(w.v1.packageId)!.pkg.have.count()).toBeGreaterThanOrEqual(1)
    await c.reach(d.id, 'verified')
    await c.stop()

    // verified → restart: waits for mandatoryAt, runs once.
    c = await w.client('127.0.1.8', { dataDir })
    expect(c.stateOf(d.id)).toBe('verified')
    await w.clock.advance(HOUR)
    await c.reach(d.id, 'succeeded')
    await c.stop()

    // succeeded → restart: stays so.
    c = await w.client('127.0.1.8', { dataDir })
    await c.deployments.tick()
    expect(c.stateOf(d.id)).toBe('succeeded')
    expect(w.runs()).toHaveLength(1)
  })

  it('fails (and does not run again) a deployment whose program was running when the client died', async () => {
    const w = await world()
    const dataDir = join(w.dir, 'crashed')
    let c = await w.client('127.0.1.9', { dataDir })
    const d = await w.deploy({ targets: ['site:leeds'], availableAt: at(0), mandatoryAt: at(HOUR) })
    c.agent.announceNow()
    await c.reach(d.id, 'verified')
    // What a crash mid-run leaves behind: the record saved as running before the program started.
    const record: DeploymentRecord = { ...c.deployments.get(d.id)!, state: 'running' }
    await c.stop()
    const { Store } = await import('../../node/store/index.ts')
    const store = await Store.open(join(dataDir, 'db'))
    await saveRecord(store, record)
    await store.close()

    await w.clock.advance(2 * HOUR)
    c = await w.client('127.0.1.9', { dataDir })
    expect(c.stateOf(d.id)).toBe('failed')
    expect(c.deployments.get(d.id)!.reason).toMatch(/never run twice/)
    await c.deployments.tick()
    expect(w.runs()).toEqual([])
  })

  it('stopped while its program runs: gives it the grace time, then terminates it and records why', async () => {
    const w = await world()
    const dataDir = join(w.dir, 'stopping')
    let c = await w.client('127.0.1.13', { dataDir, stopGraceMs: 300 })
    const d = await w.deploy({ targets: ['site:leeds'], availableAt: at(0), mandatoryAt: at(0), program: 'slow' })
    c.agent.announceNow()
    await c.reach(d.id, 'running')
    const log = join(dataDir, 'logs', `${d.id}.log`)
    await until(() => existsSync(log) && readFileSync(log, 'utf8').includes('started'), 'the program to start')
    await c.stop()
    expect(c.deployments.get(d.id)).toMatchObject({ state: 'failed', reason: 'killed by SIGTERM', exitCode: null })
    c = await w.client('127.0.1.13', { dataDir })
    await c.deployments.tick()
    expect(c.stateOf(d.id)).toBe('failed')
    expect(readFileSync(log, 'utf8').match(/started/g)).toHaveLength(1)
  })

  it('ends a program that hangs past its timeout: failed with reason timeout, told to the tracker, and the next program runs', async () => {
    const w = await world()
    const c = await w.client('127.0.1.14')
    const hung = await w.deploy({ targets: ['site:leeds'], availableAt: at(0), mandatoryAt: at(0), program: 'hang', timeoutSeconds: 1 })
    expect(hung.timeoutSeconds).toBe(1)
    c.agent.announceNow()
    await c.reach(hung.id, 'running')
    const next = await w.deploy({ targets: ['site:leeds'], availableAt: at(0), mandatoryAt: at(0) })
    c.agent.announceNow()
    await c.reach(hung.id, 'failed', 10_000)
    expect(c.deployments.get(hung.id)).toMatchObject({ exitCode: null, reason: expect.stringMatching(/^timeout: still running after 1 s/) })
    expect(c.deployments.get(hung.id)!.logTail).toMatch(/hanging\n\npeerstage: no exit after 1 s: ending the program and its process group\n$/)
    // The slot is free again: the next deployment runs.
    await c.reach(next.id, 'succeeded')
    expect(w.runs()).toHaveLength(1)
    await until(() => w.tracker.deploymentStatus(hung.id).counts.failed === 1, 'the tracker to see failed')
    const seen = w.tracker.deploymentStatus(hung.id).sites.find((s) => s.name === 'leeds')!.subnets[0]!.clients[0]!
    expect(seen.reason).toMatch(/^timeout/)
    expect(await c.node.metrics.registry.metrics()).toMatch(/peerstage_client_program_exits_total\{code="timeout"\} 1/)
  })

  it('waiting → restart: still waits for availableAt', async () => {
    const w = await world()
    const dataDir = join(w.dir, 'waiting')
    let c = await w.client('127.0.1.10', { dataDir })
    const d = await w.deploy({ targets: ['site:leeds'], availableAt: at(HOUR), mandatoryAt: at(2 * HOUR) })
    c.agent.announceNow()
    await c.reach(d.id, 'waiting')
    await c.stop()
    c = await w.client('127.0.1.10', { dataDir })
    expect(c.stateOf(d.id)).toBe('waiting')
    expect(c.node.allSwarms).toHaveLength(0)
    await w.clock.advance(HOUR)
    await c.reach(d.id, 'verified')
  })
})

/** Whether this machine lets the test mount a small tmpfs (root, in a sandbox that allows mounts). */
function canMountTmpfs(): boolean {
  if (process.getuid?.() !== 0) return false
  const probe = tempDir()
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { stdio: 'ignore' })
    execFileSync('umount', [probe], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

describe('a client whose disk is too small', () => {
  it.skipIf(!canMountTmpfs())('fails with a clear status, fetches nothing and claims nothing', async () => {
    const w = await world()
    const dataDir = join(w.dir, 'small-disk')
    mkdirSync(dataDir)
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dataDir])
    cleanups.push(async () => { execFileSync('umount', ['-l', dataDir]) })
    const c = await w.client('127.0.1.12', { dataDir })
    const d = await w.deploy({ targets: ['site:leeds'], availableAt: at(0), mandatoryAt: at(0) })
    c.agent.announceNow()
    await c.reach(d.id, 'failed')
    expect(c.deployments.get(d.id)!.reason).toMatch(new RegExp(`^not enough disk space: needs \\S+ \\S+ in ${dataDir}, \\S+ \\S+ free$`))
    expect(c.node.allSwarms).toHaveLength(0)
    expect(await c.node.store.getPackage(w.v1.packageId)).toBeUndefined()
    expect(existsSync(join(dataDir, 'staging'))).toBe(false)
    await until(() => w.tracker.deploymentStatus(d.id).counts.failed === 1, 'the tracker to hear of it')
    const reported = w.tracker.deploymentStatus(d.id).sites.find((s: any) => s.name === 'leeds')!.subnets[0].clients[0]
    expect(reported).toMatchObject({ state: 'failed', progress: 0 })
    expect(w.runs()).toEqual([])
  })
})

describe('the package cache', () => {
  it('evicts the least recently used package beyond --cache-max once a newer one reused its chunks', async () => {
    const w = await world()
    const v2 = await w.packPackage('25H2', 61) // same install.wim: every chunk of it reusable
    await w.dp.seed(v2, v2.src)
    w.dpAgent.announceNow()
    const c = await w.client('127.0.1.11', { cacheMaxBytes: 4_000_000 })
    const first = await w.deploy({ targets: ['site:leeds'], availableAt: at(0), mandatoryAt: at(0) })
    c.agent.announceNow()
    await c.reach(first.id, 'succeeded')
    const second = await w.deploy({ targets: ['site:leeds'], availableAt: at(0), mandatoryAt: at(0) }, v2)
    c.agent.announceNow()
    await c.reach(second.id, 'succeeded')
    expect(c.node.reusedBytesOf(v2.packageId)).toBeGreaterThanOrEqual(2_000_000)
    await until(() => !existsSync(packageDir(c, '24H2')), 'the older version to be evicted')
    expect(existsSync(join(packageDir(c, '25H2'), 'install.wim'))).toBe(true)
    expect(await c.node.store.getPackage(w.v1.packageId)).toBeUndefined()
  })
})

export type { PeerNode }
