import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { manifestToJson } from '../../chunker/index.ts'
import { LevelTrackerStore, MemoryTrackerStore, type Deployment, type DeploymentInput, type DeploymentReport, type StoreOp, type Tracker } from '../../tracker/index.ts'
import { tempDir } from '../helpers/tmp.ts'
import { announceOf, MONDAY_0759, peerId, signedPackage, trackerAt, trustingConfig } from './helpers.ts'

const HOUR = 3600_000
const at = (ms: number): string => new Date(MONDAY_0759 + ms).toISOString()
const running: Tracker[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((t) => t.stop()))
})

/** A tracker trusting a fresh publisher, and a package that publisher signed. */
async function world(options: { store?: MemoryTrackerStore | LevelTrackerStore, pkg?: Awaited<ReturnType<typeof signedPackage>> } = {}) {
  const dir = tempDir()
  const pkg = options.pkg ?? await signedPackage(dir)
  const t = await trackerAt(MONDAY_0759, options.store, trustingConfig(pkg.keys.publicKeyPath))
  running.push(t.tracker)
  const deploy = (extra: Partial<DeploymentInput> = {}) => t.tracker.createDeployment({ manifest: pkg.canonical, program: 'install', targets: ['site:leeds'], availableAt: at(0), mandatoryAt: at(HOUR), ...extra })
  return { ...t, dir, pkg, deploy }
}

function report(id: string, extra: Partial<DeploymentReport> = {}): DeploymentReport {
  return { id, state: 'downloading', progress: 0.5, bytes: { lan: 100, wan: 10, reused: 1 }, verifyFailures: 0, updatedAt: at(0), ...extra }
}

const offered = async (tracker: Tracker, ip: string, id = peerId(), role: 'client' | 'dp' = 'client'): Promise<string[]> =>
  (await tracker.announce(announceOf(id, role, 0), ip)).deployments.map((d) => d.id)

describe('creating a deployment', () => {
  it('keeps the package, program, canonical targets and times; ids are d- and 8 hex digits', async () => {
    const w = await world()
    const d = await w.deploy({ targets: ['site:leeds', 'subnet:127.0.77.77/16', 'site:leeds', 'client:QmPeer1'], availableAt: '2026-11-23T09:00:00+01:00', jitterSeconds: 600 })
    expect(d).toEqual({
      id: expect.stringMatching(/^d-[0-9a-f]{8}$/), packageId: w.pkg.packageId, name: 'win11', version: '24H2', program: 'install',
      targets: ['site:leeds', 'subnet:127.0.0.0/16', 'client:QmPeer1'], availableAt: '2026-11-23T08:00:00.000Z', mandatoryAt: at(HOUR), expiresAt: null,
      jitterSeconds: 600, createdAt: at(0), cancelledAt: null,
    })
    expect(w.tracker.getDeployment(d.id)).toEqual(d)
    expect(w.tracker.manifest(w.pkg.packageId)).toBe(w.pkg.canonical)
  })

  it('refuses unsigned, tampered and untrusted manifests, and any when no publisher is trusted', async () => {
    const w = await world()
    const json = manifestToJson(w.pkg.manifest) as Record<string, any>
    const { signature: _, ...unsigned } = json
    const stranger = await signedPackage(join(w.dir, 'stranger'))
    const cases: Array<[string, string, RegExp]> = [
      ['unsigned', JSON.stringify(unsigned), /is not signed.*signature is missing/],
      ['tampered', JSON.stringify({ ...json, version: '25H2' }), /signature does not match/],
      ['untrusted', stranger.canonical, /signed by ed25519:\S+, which is not a trusted publisher/],
    ]
    for (const [name, manifest, message] of cases) {
      const err = await w.deploy({ manifest }).catch((e: unknown) => e)
      expect(err, name).toMatchObject({ code: 'PEERSTAGE_TRACKER_UNTRUSTED_PACKAGE', message: expect.stringMatching(message) })
    }
    const open = await trackerAt(MONDAY_0759, undefined, { ...trustingConfig(''), trust: [] })
    running.push(open.tracker)
    await expect(open.tracker.createDeployment({ manifest: w.pkg.canonical, program: 'install', targets: ['site:leeds'], availableAt: at(0), mandatoryAt: at(0) }))
      .rejects.toMatchObject({ code: 'PEERSTAGE_TRACKER_UNTRUSTED_PACKAGE', message: expect.stringMatching(/trusts no publisher.*trust: \[publisher\.pub\]/) })
    expect(w.tracker.listDeployments()).toEqual([])
  })

  it('names the field it refuses, and keeps nothing', async () => {
    const w = await world()
    const cases: Array<[string, Partial<DeploymentInput>, string, RegExp]> = [
      ['not JSON', { manifest: '{"format":1,' }, 'BAD_REQUEST', /^manifest: the manifest is not JSON/],
      ['unknown program', { program: 'uninstall' }, 'BAD_REQUEST', /program 'uninstall' is not in win11@24H2 \(it has: install\)/],
      ['unknown site', { targets: ['site:mars'] }, 'NOT_FOUND', /targets\[0\]: no site 'mars'.*known: dc, leeds, york/],
      ['bad subnet', { targets: ['subnet:10.1.2.0/33'] }, 'BAD_REQUEST', /targets\[0\]: '10.1.2.0\/33' is not an IPv4 CIDR/],
      ['bad client id', { targets: ['client:0OIl'] }, 'BAD_REQUEST', /targets\[0\]: '0OIl' is not a peer id/],
      ['unknown target kind', { targets: ['host:pc1'] }, 'BAD_REQUEST', /targets\[0\] 'host:pc1' must be site:NAME, subnet:CIDR or client:PEERID/],
      ['no targets', { targets: [] }, 'BAD_REQUEST', /at least one/],
      ['a time without zone', { availableAt: '2026-11-23T09:00:00' }, 'BAD_REQUEST', /availableAt '2026-11-23T09:00:00' is not an ISO 8601 time like/],
      ['a date that does not exist', { mandatoryAt: '2026-02-30T09:00:00Z' }, 'BAD_REQUEST', /mandatoryAt '2026-02-30T09:00:00Z' is not an ISO 8601 time/],
      ['mandatory before available', { availableAt: at(HOUR), mandatoryAt: at(0) }, 'BAD_REQUEST', /mandatoryAt .* is before availableAt/],
      ['expiry not after mandatory', { expiresAt: at(HOUR) }, 'BAD_REQUEST', /expiresAt .* must be after mandatoryAt/],
      ['jitter over a week', { jitterSeconds: 7 * 24 * 3600 + 1 }, 'BAD_REQUEST', /jitterSeconds must be a whole number from 0 to 604800/],
      ['a timeout of 0', { timeoutSeconds: 0 }, 'BAD_REQUEST', /timeoutSeconds must be a whole number from 1 to 604800/],
      ['a timeout over a week', { timeoutSeconds: 7 * 24 * 3600 + 1 }, 'BAD_REQUEST', /timeoutSeconds must be a whole number from 1 to 604800/],
      ['a fractional timeout', { timeoutSeconds: 1.5 }, 'BAD_REQUEST', /timeoutSeconds must be a whole number/],
    ]
    for (const [name, input, code, message] of cases) {
      const err = await w.deploy(input).catch((e: unknown) => e)
      expect(err, name).toMatchObject({ code: `PEERSTAGE_TRACKER_${code}`, message: expect.stringMatching(message) })
    }
    expect(w.tracker.listDeployments()).toEqual([])
    expect(() => w.tracker.manifest(w.pkg.packageId)).toThrow(/no manifest of package/)
  })
})

describe('which clients get a deployment', () => {
  it('targets by site, by subnet (a /16 holding a site\'s /24) and by client id; never DPs', async () => {
    const w = await world()
    const chosen = peerId('Chosen')
    const bySite = await w.deploy({ targets: ['site:york'] })
    const bySubnet = await w.deploy({ targets: ['subnet:127.0.0.0/16'] })
    const byClient = await w.deploy({ targets: [`client:${chosen}`] })
    expect(await offered(w.tracker, '127.0.3.5')).toEqual([bySite.id, bySubnet.id])
    expect(await offered(w.tracker, '127.0.1.5')).toEqual([bySubnet.id])
    expect(await offered(w.tracker, '127.1.0.5')).toEqual([])
    expect(await offered(w.tracker, '127.1.0.6', chosen)).toEqual([byClient.id])
    expect(await offered(w.tracker, '127.0.3.6', peerId(), 'dp')).toEqual([])
    const answer = await w.tracker.announce(announceOf(peerId(), 'client', 0), '127.0.3.7')
    expect(answer.deployments[0]).toEqual({ id: bySite.id, packageId: w.pkg.packageId, name: 'win11', version: '24H2', program: 'install', availableAt: at(0), mandatoryAt: at(HOUR), expiresAt: null, jitterSeconds: 0 })
  })

  it('leaves out cancelled deployments and expired ones (by the tracker\'s clock); a stopping node gets none', async () => {
    const w = await world()
    const kept = await w.deploy()
    const cancelled = await w.deploy()
    const expiring = await w.deploy({ expiresAt: at(2 * HOUR) })
    expect(await offered(w.tracker, '127.0.1.5')).toEqual([kept.id, cancelled.id, expiring.id])
    const c = await w.tracker.cancelDeployment(cancelled.id)
    expect(c.cancelledAt).toBe(at(0))
    await w.clock.advance(2 * HOUR)
    expect(await offered(w.tracker, '127.0.1.5')).toEqual([kept.id])
    expect((await w.tracker.cancelDeployment(cancelled.id)).cancelledAt).toBe(at(0)) // twice: the first time stays
    expect(w.tracker.listDeployments().map((d) => d.id)).toEqual([kept.id, cancelled.id, expiring.id])
    const stopped = await w.tracker.announce(announceOf(peerId(), 'client', 0, 10, { event: 'stopped' }), '127.0.1.5')
    expect(stopped.deployments).toEqual([])
    expect(() => w.tracker.getDeployment('d-00000000')).toThrow(expect.objectContaining({ code: 'PEERSTAGE_TRACKER_NOT_FOUND' }))
    await expect(w.tracker.cancelDeployment('d-00000000')).rejects.toMatchObject({ code: 'PEERSTAGE_TRACKER_NOT_FOUND', message: /no deployment 'd-00000000'/ })
  })
})

describe('reports', () => {
  it('are gathered per site and subnet with bytes, DP bytes and each client, and shown in the status', async () => {
    const w = await world()
    const d = await w.deploy({ targets: ['site:leeds', 'subnet:127.0.9.0/24'] })
    const a = peerId('A')
    const b = peerId('B')
    const c = peerId('C')
    const far = peerId('Far')
    await w.tracker.announce(announceOf(a, 'client', 0, 10, { deployments: [report(d.id, { state: 'succeeded', progress: 1, exitCode: 0, logTail: 'done' })] }), '127.0.1.5')
    await w.tracker.announce(announceOf(b, 'client', 0, 10, { deployments: [report(d.id)] }), '127.0.1.6')
    await w.tracker.announce(announceOf(c, 'client', 0, 10, { deployments: [report(d.id, { state: 'failed', reason: 'not enough disk space', bytes: { lan: 0, wan: 0, reused: 0 } })] }), '127.0.2.5')
    await w.tracker.announce(announceOf(far, 'client', 0, 10, { deployments: [report(d.id), report('d-ffffffff')] }), '127.0.9.5')
    await w.tracker.announce({ ...announceOf(peerId('Dp'), 'dp', 10, 10, {}, w.pkg.packageId), packages: [{ id: w.pkg.packageId, have: 10, pieces: 10, uploaded: { '127.0.1.0/24': 5000 } }] }, '127.0.10.1')

    const s = w.tracker.deploymentStatus(d.id)
    expect(s.deployment).toEqual(d)
    expect(s.counts).toEqual({ succeeded: 1, downloading: 2, failed: 1 })
    expect(s.sites.map((x) => [x.name, x.subnets.map((n) => [n.subnet, n.counts])])).toEqual([
      ['leeds', [['127.0.1.0/24', { succeeded: 1, downloading: 1 }], ['127.0.2.0/24', { failed: 1 }]]],
    ])
    const leeds1 = s.sites[0]!.subnets[0]!
    expect(leeds1.bytes).toEqual({ lan: 200, wan: 20, reused: 2 })
    expect(leeds1.dpUploadBytes).toBe(5000)
    expect(leeds1.clients.find((x) => x.peerId === a)).toEqual({
      peerId: a, state: 'succeeded', progress: 1, exitCode: 0, logTail: 'done', bytes: { lan: 100, wan: 10, reused: 1 }, verifyFailures: 0, updatedAt: at(0),
      // The node as the tracker knows it now, beside its report (this one announced no name or version: an older node).
      node: { peerId: a, name: null, role: 'client', address: '127.0.1.5', subnet: '127.0.1.0/24', site: 'leeds', version: null, presence: 'online', lastSeenAt: expect.any(String), problem: null },
    })
    expect(s.sites[0]!.subnets[1]!.clients).toEqual([expect.objectContaining({ peerId: c, reason: 'not enough disk space' })])
    expect(s.unassigned).toEqual([expect.objectContaining({ subnet: '127.0.9.0/24', counts: { downloading: 1 }, dpUploadBytes: 0 })])

    const status = w.tracker.status() as any
    const subnet = (name: string, cidr: string): any => status.sites.find((x: any) => x.name === name).subnets.find((n: any) => n.subnet === cidr)
    expect(subnet('leeds', '127.0.1.0/24').deployments).toEqual([{ id: d.id, name: 'win11', version: '24H2', counts: { succeeded: 1, downloading: 1 } }])
    expect(subnet('york', '127.0.3.0/24').deployments).toEqual([])
    expect(status.unassigned.find((n: any) => n.subnet === '127.0.9.0/24').deployments).toEqual([{ id: d.id, name: 'win11', version: '24H2', counts: { downloading: 1 } }])
  })

  it('shows a targeted site before any client reports, and only the sites it concerns', async () => {
    const w = await world()
    const d = await w.deploy({ targets: ['site:york'] })
    const s = w.tracker.deploymentStatus(d.id)
    expect(s.sites).toEqual([{ name: 'york', subnets: [{ subnet: '127.0.3.0/24', counts: {}, bytes: { lan: 0, wan: 0, reused: 0 }, dpUploadBytes: 0, clients: [] }] }])
    expect([s.counts, s.unassigned]).toEqual([{}, []])
  })

  it('are saved only when more than their time changed, in the announce\'s batch', async () => {
    const writes: StoreOp[][] = []
    const store = new MemoryTrackerStore()
    const write = store.write.bind(store)
    store.write = async (ops) => {
      writes.push([...ops])
      return write(ops)
    }
    const w = await world({ store })
    const d = await w.deploy()
    const id = peerId()
    const reportsSaved = (): number => writes.flat().filter((op) => op.kind === 'report').length
    writes.length = 0
    await w.tracker.announce(announceOf(id, 'client', 0, 10, { deployments: [report(d.id)] }), '127.0.1.5')
    expect(writes).toHaveLength(1) // registration and report together
    expect(reportsSaved()).toBe(1)
    await w.tracker.announce(announceOf(id, 'client', 0, 10, { deployments: [report(d.id, { updatedAt: at(1000) })] }), '127.0.1.5')
    expect(reportsSaved()).toBe(1)
    expect(w.tracker.deploymentStatus(d.id).sites[0]!.subnets[0]!.clients[0]!.updatedAt).toBe(at(1000))
    await w.tracker.announce(announceOf(id, 'client', 0, 10, { deployments: [report(d.id, { progress: 0.75 })] }), '127.0.1.5')
    expect(reportsSaved()).toBe(2)
  })

  it('count verification failures by their increase and each program exit once, and gauge clients per state', async () => {
    const w = await world()
    const d = await w.deploy()
    const a = peerId()
    const b = peerId()
    await w.tracker.announce(announceOf(a, 'client', 0, 10, { deployments: [report(d.id, { verifyFailures: 1 })] }), '127.0.1.5')
    await w.tracker.announce(announceOf(a, 'client', 0, 10, { deployments: [report(d.id, { state: 'succeeded', exitCode: 3010, verifyFailures: 2 })] }), '127.0.1.5')
    await w.tracker.announce(announceOf(a, 'client', 0, 10, { deployments: [report(d.id, { state: 'succeeded', exitCode: 3010, verifyFailures: 2, updatedAt: at(5) })] }), '127.0.1.5')
    await w.tracker.announce(announceOf(b, 'client', 0, 10, { deployments: [report(d.id, { state: 'failed', exitCode: null })] }), '127.0.1.6')
    const text = await w.tracker.metrics.registry.metrics()
    expect(text).toContain('peerstage_tracker_verification_failures_total 2')
    expect(text).toContain('peerstage_tracker_program_exits_total{code="3010"} 1')
    expect(text).toContain('peerstage_tracker_program_exits_total{code="signal"} 1')
    expect(text).toContain(`peerstage_tracker_deployment_clients{deployment="${d.id}",state="succeeded"} 1`)
    expect(text).toContain(`peerstage_tracker_deployment_clients{deployment="${d.id}",state="failed"} 1`)
  })

  it('gauge each live deployment\'s mandatoryAt in Unix seconds; cancelled and expired ones leave the gauge', async () => {
    const w = await world()
    const kept = await w.deploy()
    const cancelled = await w.deploy()
    const expiring = await w.deploy({ expiresAt: at(2 * HOUR) })
    const gauge = async (id: string): Promise<number | undefined> => {
      const m = (await w.tracker.metrics.registry.metrics()).match(new RegExp(`^peerstage_tracker_deployment_mandatory_timestamp_seconds\\{deployment="${id}"\\} (\\S+)$`, 'm'))
      return m === null ? undefined : Number(m[1])
    }
    expect(await gauge(kept.id)).toBe((MONDAY_0759 + HOUR) / 1000)
    expect(await gauge(expiring.id)).toBe((MONDAY_0759 + HOUR) / 1000)
    await w.tracker.cancelDeployment(cancelled.id)
    expect(await gauge(cancelled.id)).toBeUndefined()
    await w.clock.advance(2 * HOUR)
    expect(await gauge(expiring.id)).toBeUndefined()
    expect(await gauge(kept.id)).toBe((MONDAY_0759 + HOUR) / 1000)
  })
})

describe('a restarted tracker', () => {
  it('keeps deployments, manifests and reports (level store)', async () => {
    const data = join(tempDir(), 'state')
    let store = await LevelTrackerStore.open(data)
    let w = await world({ store })
    const d = await w.deploy({ targets: ['site:leeds', 'client:QmSomeone'] })
    const other = await w.deploy()
    await w.tracker.cancelDeployment(other.id)
    const a = peerId()
    await w.tracker.announce(announceOf(a, 'client', 0, 10, { deployments: [report(d.id, { state: 'verified', progress: 1 })] }), '127.0.1.5')
    const before = w.tracker.deploymentStatus(d.id)
    await w.tracker.stop()
    running.length = 0
    await store.close()

    store = await LevelTrackerStore.open(data)
    w = await world({ store, pkg: w.pkg })
    const byId = (list: Deployment[]): Deployment[] => [...list].sort((x, y) => x.id.localeCompare(y.id))
    expect(byId(w.tracker.listDeployments())).toEqual(byId([d, { ...other, cancelledAt: at(0) }]))
    expect(w.tracker.deploymentStatus(d.id)).toEqual(before)
    expect(w.tracker.manifest(d.packageId)).toBe(w.pkg.canonical)
    expect(await offered(w.tracker, '127.0.1.9')).toEqual([d.id])
    await w.tracker.stop()
    running.length = 0
    await store.close()
  })
})

describe('the change long-poll (GET /v1/changes)', () => {
  it('answers a targeted client at once when a deployment for it is created or cancelled, and not the others', async () => {
    const w = await world()
    const leeds = peerId()
    const york = peerId()
    await offered(w.tracker, '127.0.1.5', leeds)
    await offered(w.tracker, '127.0.3.5', york)
    const leedsWait = w.tracker.waitForChanges(leeds, 0, 60_000)
    let yorkAnswer: { version: number, changed: boolean } | undefined
    void w.tracker.waitForChanges(york, 0, 60_000).then((a) => { yorkAnswer = a })

    const d = await w.deploy() // site:leeds
    const first = await leedsWait
    expect(first).toEqual({ version: first.version, changed: true })
    await w.clock.advance(1000)
    expect(yorkAnswer).toBeUndefined() // not for york: it waits on
    await w.clock.advance(60_000)
    expect(yorkAnswer).toMatchObject({ changed: false })

    // A change made while leeds was not waiting answers its next poll at once; after it, it waits again.
    await offered(w.tracker, '127.0.1.5', leeds) // still registered, 61 s on
    await w.tracker.cancelDeployment(d.id)
    const again = await w.tracker.waitForChanges(leeds, first.version, 60_000)
    expect(again).toEqual({ version: again.version, changed: true })
    expect(again.version).toBeGreaterThan(first.version)
    let idle: { version: number, changed: boolean } | undefined
    void w.tracker.waitForChanges(leeds, again.version, 5000).then((a) => { idle = a })
    await w.clock.advance(1000)
    expect(idle).toBeUndefined()
    await w.clock.advance(5000)
    expect(idle).toEqual({ version: again.version, changed: false })
  })

  it('lets an unknown node wait without answering it early (its announces register it)', async () => {
    const w = await world()
    let answer: { version: number, changed: boolean } | undefined
    void w.tracker.waitForChanges(peerId(), 0, 10_000).then((a) => { answer = a })
    await w.deploy()
    await w.clock.advance(1000)
    expect(answer).toBeUndefined()
    await w.clock.advance(10_000)
    expect(answer).toMatchObject({ changed: false })
  })
})
