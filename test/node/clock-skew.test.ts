import { chmodSync, existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { generatePublisherKeys, loadPrivateKey, loadPublicKey, pack, publisherOf } from '../../chunker/index.ts'
import { createClient, createDp } from '../../node/index.ts'
import { TrackerClock } from '../../node/tracker/index.ts'
import { createTrackerConfig, MemoryTrackerStore, Tracker, TrackerClient } from '../../tracker/index.ts'
import { FakeClock, signingNow } from '../helpers/fake-clock.ts'
import { newSwarmKey, on } from '../helpers/nodes.ts'
import { writeTree } from '../helpers/packages.ts'
import { pseudoRandomBytes, tempDir } from '../helpers/tmp.ts'
import { until } from '../helpers/until.ts'
import { serveTracker } from '../tracker/helpers.ts'

const MINUTE = 60_000
const HOUR = 60 * MINUTE
/** The skew of the clients' clocks: twice what the tracker accepts on a signature (5 min). */
const SKEW_MS = 10 * MINUTE

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

describe('the tracker clock', () => {
  it('keeps the tightest bound of its readings: never ahead of the tracker, at most one short round trip behind', () => {
    let local = 1_000_000
    const tc = new TrackerClock(() => local)
    expect(tc.nowMs()).toBe(local) // no reading yet: the local clock
    // The tracker is 600 000 ms ahead; a slow round trip (400 ms), then a fast one (20 ms).
    tc.sample(local, local + 400, local + 600_000 + 380)
    expect(tc.offsetMs).toBe(600_000 - 20)
    local += 1000
    tc.sample(local, local + 20, local + 600_000 + 10)
    expect(tc.offsetMs).toBe(600_000 - 10)
    // A slow reading later does not loosen it.
    local += 1000
    tc.sample(local, local + 900, local + 600_000 + 100)
    expect(tc.offsetMs).toBe(600_000 - 10)
    expect(tc.nowMs()).toBeLessThanOrEqual(local + 600_000)
    // The tracker's clock stepped back an hour: the readings contradict, it starts over.
    local += 1000
    tc.sample(local, local + 10, local + 600_000 - HOUR + 5)
    expect(tc.offsetMs).toBe(600_000 - HOUR - 5)
    expect(tc.sampleCount).toBe(1)
    // Nonsense is ignored.
    tc.sample(local, local - 5, local)
    tc.sample(local, local + 5, Number.NaN)
    expect(tc.sampleCount).toBe(1)
  })
})

describe('a client whose clock is off by minutes', () => {
  it('announces, pre-stages and runs by the tracker\'s time: ahead, not before mandatoryAt; behind, on time', async () => {
    const dir = tempDir()
    const clock = new FakeClock()
    const start = Date.now()
    const trackerNow = (): Date => new Date(start + clock.nowMs())
    const keys = generatePublisherKeys(join(dir, 'keys'))
    const marker = join(dir, 'marker.txt')
    process.env.PEERSTAGE_TEST_MARKER = marker
    const tracker = await Tracker.start(createTrackerConfig({
      adminToken: 'admin', dpToken: 'dp', announceIntervalSeconds: 1, registrationSeconds: 30 * 24 * 3600, leaseSeconds: 30 * 24 * 3600,
      trust: [keys.publicKeyPath],
      sites: [{ name: 'dc', subnets: ['127.0.10.0/24'] }, { name: 'leeds', subnets: ['127.0.1.0/24'], wan: { maxWanClients: 8 } }],
    }), { store: new MemoryTrackerStore(), now: trackerNow, clock })
    const { app, url } = await serveTracker(tracker)
    const admin = new TrackerClient({ url, token: 'admin' })
    cleanups.push(async () => {
      admin.close()
      await app.close()
      await tracker.stop()
    })
    const swarmKey = newSwarmKey(dir)
    const src = join(dir, 'src')
    writeTree(src, { 'install.wim': pseudoRandomBytes(500_000, 7), 'install.sh': '#!/bin/sh\necho "$(pwd)" >> "$PEERSTAGE_TEST_MARKER"\n' })
    chmodSync(join(src, 'install.sh'), 0o755)
    const pkg = await pack(src, { name: 'win11', version: '1', privateKey: loadPrivateKey(keys.privateKeyPath), programs: [{ name: 'install', command: './install.sh', args: [] }] })
    const dp = await createDp({ dataDir: join(dir, 'dp'), swarmKey, ...on('127.0.10.1'), publish: [{ signed: pkg, source: src }] },
      { tracker: new TrackerClient({ url, token: 'dp', localAddress: '127.0.10.1' }), signAt: signingNow(trackerNow) })
    cleanups.push(() => dp.stop())
    await dp.start()

    /** A client whose wall clock reads the tracker's plus `skewMs` (its timers on the same fake clock). */
    async function skewedClient(ip: string, skewMs: number) {
      const now = (): Date => new Date(trackerNow().getTime() + skewMs)
      const service = await createClient({ dataDir: join(dir, `client-${ip}`), swarmKey, ...on(ip), trusted: [publisherOf(loadPublicKey(keys.publicKeyPath))], retryMs: 200 },
        { tracker: new TrackerClient({ url, localAddress: ip }), now, signAt: signingNow(now), clock })
      cleanups.push(() => service.stop())
      await service.start()
      return { ip, service, dataDir: join(dir, `client-${ip}`) }
    }
    const ahead = await skewedClient('127.0.1.1', SKEW_MS)
    const behind = await skewedClient('127.0.1.2', -SKEW_MS)
    const d = await admin.createDeployment({
      manifest: pkg.canonical, program: 'install', targets: ['site:leeds'],
      availableAt: new Date(start + HOUR).toISOString(), mandatoryAt: new Date(start + 2 * HOUR).toISOString(),
    })
    const stateOf = (c: typeof ahead): string | undefined => c.service.deployments.get(d.id)?.state
    const runs = (): string[] => existsSync(marker) ? readFileSync(marker, 'utf8').trim().split('\n').filter(Boolean) : []
    for (const c of [ahead, behind]) {
      c.service.announcer.announceNow()
      // Its first announce, signed 10 minutes off, was refused; the refusal's time set it right.
      await until(() => stateOf(c) === 'waiting', `${c.ip} to hear of the deployment`)
      // Its records are dated by the tracker's time too, not ten minutes off.
      expect(Math.abs(Date.parse(c.service.deployments.get(d.id)!.updatedAt) - trackerNow().getTime())).toBeLessThan(MINUTE)
    }

    // Five minutes before availableAt by the tracker: the client ahead reads five minutes past it, and waits.
    await clock.advance(HOUR - 5 * MINUTE)
    for (const c of [ahead, behind]) await c.service.deployments.tick()
    expect([stateOf(ahead), stateOf(behind)]).toEqual(['waiting', 'waiting'])
    // At availableAt by the tracker both pre-stage, the one behind too (its clock reads ten minutes before).
    await clock.advance(5 * MINUTE)
    for (const c of [ahead, behind]) await until(() => stateOf(c) === 'verified', `${c.ip} to verify (is ${stateOf(c)})`)

    // Five minutes before mandatoryAt: the client ahead reads five minutes past it, and runs nothing.
    await clock.advance(HOUR - 5 * MINUTE)
    for (const c of [ahead, behind]) await c.service.deployments.tick()
    expect([stateOf(ahead), stateOf(behind)]).toEqual(['verified', 'verified'])
    expect(runs()).toEqual([])
    // At mandatoryAt by the tracker both run, once each.
    await clock.advance(5 * MINUTE)
    for (const c of [ahead, behind]) await until(() => stateOf(c) === 'succeeded', `${c.ip} to run (is ${stateOf(c)})`)
    expect(runs().sort()).toEqual([ahead, behind].map((c) => join(c.dataDir, 'packages', pkg.packageId)).sort())
  })
})
