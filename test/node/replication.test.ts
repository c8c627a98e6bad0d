import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { chunkHash, generatePublisherKeys, loadPrivateKey, loadPublicKey, pack, publisherOf, totalBytes, verifyDirectory, type PackResult } from '../../chunker/index.ts'
import { createDp, type PeerNode } from '../../node/index.ts'
import { createTrackerConfig, MemoryTrackerStore, Tracker, TrackerClient, type ReplicaState } from '../../tracker/index.ts'
import { FakeClock, signingNow } from '../helpers/fake-clock.ts'
import { newSwarmKey, on, startNode } from '../helpers/nodes.ts'
import { writeTree } from '../helpers/packages.ts'
import { pseudoRandomBytes, tempDir } from '../helpers/tmp.ts'
import { until } from '../helpers/until.ts'
import { serveTracker } from '../tracker/helpers.ts'

/** Friday 2026-11-27 11:59:00 UTC: a link closed until noon opens a minute later. */
const FRIDAY_1159 = Date.UTC(2026, 10, 27, 11, 59, 0)
const HUB = '127.0.10.1'
const REGION = '127.0.1.1'
const BRANCH = '127.0.2.1'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** Version 1: a 6 MB image, a driver, a readme. */
function v1Files(): Record<string, Buffer> {
  return {
    'install.wim': pseudoRandomBytes(6_000_000, 71),
    'drivers/net.sys': pseudoRandomBytes(400_000, 72),
    'readme.txt': Buffer.from('win11 image\n'),
  }
}

/** Version 2: three 100-byte edits inside the image, a new driver, one more file. */
function v2Files(): Record<string, Buffer> {
  const files = v1Files()
  const wim = Buffer.from(files['install.wim']!)
  for (const at of [1_000_000, 3_000_000, 5_000_000]) pseudoRandomBytes(100, at).copy(wim, at)
  return { ...files, 'install.wim': wim, 'drivers/net.sys': pseudoRandomBytes(400_000, 73), 'drivers/new.inf': Buffer.from('[Version] 2\n') }
}

/** Bytes of the chunks of `next` whose content `prev` does not hold: what must cross a link. */
function changedBytes(prev: PackResult, next: PackResult): number {
  const held = new Set(Array.from({ length: prev.manifest.chunks.count }, (_, i) => chunkHash(prev.manifest.chunks, i)))
  let n = 0
  for (let i = 0; i < next.manifest.chunks.count; i++) if (!held.has(chunkHash(next.manifest.chunks, i))) n += next.manifest.chunks.sizes[i]!
  return n
}

/** Package bytes a node sent to a /24, as its metrics count them. */
async function uploadedTo(node: PeerNode, subnet: string): Promise<number> {
  const m = await node.metrics.uploadBySubnet.get()
  return m.values.find((v) => v.labels.subnet === subnet)?.value ?? 0
}

/**
 * hub (127.0.10.0/24) → region (127.0.1.0/24) → branch (127.0.2.0/24), one DP each, the
 * hub's publishing from its sources. The tracker runs on a fake wall clock at `FRIDAY_1159`.
 */
async function chain(options: { regionLink?: Record<string, unknown> } = {}) {
  const dir = tempDir()
  const clock = new FakeClock()
  const now = (): Date => new Date(FRIDAY_1159 + clock.nowMs())
  const signAt = signingNow(now)
  const keys = generatePublisherKeys(join(dir, 'keys'))
  const trusted = [publisherOf(loadPublicKey(keys.publicKeyPath))]
  const tracker = await Tracker.start(createTrackerConfig({
    adminToken: 'admin', dpToken: 'dp', announceIntervalSeconds: 1, registrationSeconds: 30 * 24 * 3600,
    trust: [keys.publicKeyPath],
    sites: [
      { name: 'hub', subnets: ['127.0.10.0/24'] },
      { name: 'region', subnets: ['127.0.1.0/24'], parent: 'hub', link: options.regionLink ?? { default: 'unlimited' }, replicate: ['win11@*'] },
      { name: 'branch', subnets: ['127.0.2.0/24'], parent: 'region' },
    ],
  }), { store: new MemoryTrackerStore(), now, clock })
  const { app, url } = await serveTracker(tracker)
  const admin = new TrackerClient({ url, token: 'admin' })
  cleanups.push(async () => {
    admin.close()
    await app.close()
    await tracker.stop()
  })
  const swarmKey = newSwarmKey(dir)

  async function packVersion(version: string, files: Record<string, Buffer>): Promise<PackResult & { src: string }> {
    const src = join(dir, `src-${version}`)
    writeTree(src, files)
    return { ...await pack(src, { name: 'win11', version, privateKey: loadPrivateKey(keys.privateKeyPath), programs: [] }), src }
  }

  /** A DP with a replicator, announcing from `ip`. */
  async function dp(ip: string, dataDir = join(dir, `dp-${ip}`), options: { trusted?: string[] } = {}) {
    const service = await createDp({ dataDir, swarmKey, ...on(ip), trusted: options.trusted ?? trusted, retryMs: 200, budgetWaitSeconds: 5 }, { tracker: new TrackerClient({ url, token: 'dp', localAddress: ip }), now, signAt })
    const { node } = service
    const agent = service.announcer!
    const replicator = service.replicator!
    const states: ReplicaState[] = []
    replicator.on('state', (r) => states.push(r.state))
    let stopped = false
    const stop = async (): Promise<void> => {
      if (stopped) return
      stopped = true
      await service.stop()
    }
    cleanups.push(stop)
    const seeding = (p: PackResult): boolean => replicator.get(p.packageId)?.state === 'seeding'
    const reach = (p: PackResult, timeoutMs = 30_000): Promise<void> =>
      until(() => seeding(p), `${ip} to seed ${p.manifest.version} (is ${replicator.get(p.packageId)?.state}: ${replicator.get(p.packageId)?.reason ?? ''})`, timeoutMs)
    const packageDir = (p: PackResult): string => join(dataDir, 'packages', `win11@${p.manifest.version}`)
    return { ip, dataDir, agent, limits: service.limits, node, replicator, states, stop, reach, packageDir, start: async () => (await service.start())! }
  }

  const hub = await dp(HUB)
  await hub.start()
  return { dir, clock, tracker, admin, url, hub, dp, packVersion }
}

describe('inter-site replication', () => {
  it('replicates down a chain of three DPs, and version 2 moves only the changed chunks across each link', async () => {
    const c = await chain()
    const v1 = await c.packVersion('1', v1Files())
    await c.hub.node.seed(v1, v1.src)
    await c.admin.addPackage(v1.canonical)
    const region = await c.dp(REGION)
    const branch = await c.dp(BRANCH)
    await region.start()
    await branch.start()
    await region.reach(v1)
    await branch.reach(v1)
    for (const d of [region, branch]) {
      expect((await verifyDirectory(v1.manifest, d.packageDir(v1))).ok).toBe(true)
      expect(existsSync(join(d.dataDir, 'staging', 'win11@1'))).toBe(false)
    }
    const size1 = totalBytes(v1.manifest)
    const v1Links = { hubToRegion: await uploadedTo(c.hub.node, '127.0.1.0/24'), regionToBranch: await uploadedTo(region.node, '127.0.2.0/24') }
    console.log(`v1 (${size1} B): hub→region ${v1Links.hubToRegion} B, region→branch ${v1Links.regionToBranch} B`)
    expect(v1Links.hubToRegion).toBeGreaterThanOrEqual(size1)
    expect(v1Links.hubToRegion).toBeLessThanOrEqual(1.1 * size1)
    expect(v1Links.regionToBranch).toBeGreaterThanOrEqual(size1)
    expect(v1Links.regionToBranch).toBeLessThanOrEqual(1.1 * size1)
    // Never skipping a level: the hub sent the branch nothing.
    expect(await uploadedTo(c.hub.node, '127.0.2.0/24')).toBe(0)

    const v2 = await c.packVersion('2', v2Files())
    const changed = changedBytes(v1, v2)
    await c.hub.node.seed(v2, v2.src)
    await c.admin.addPackage(v2.canonical)
    await region.reach(v2)
    await branch.reach(v2)
    const v2Links = { hubToRegion: await uploadedTo(c.hub.node, '127.0.1.0/24') - v1Links.hubToRegion, regionToBranch: await uploadedTo(region.node, '127.0.2.0/24') - v1Links.regionToBranch }
    console.log(`v2 (${totalBytes(v2.manifest)} B, ${changed} B in new chunks): hub→region ${v2Links.hubToRegion} B, region→branch ${v2Links.regionToBranch} B`)
    for (const sent of Object.values(v2Links)) {
      expect(sent).toBeGreaterThanOrEqual(changed)
      expect(sent).toBeLessThanOrEqual(1.1 * changed)
    }
    for (const d of [region, branch]) expect((await verifyDirectory(v2.manifest, d.packageDir(v2))).ok).toBe(true)

    // The tracker shows each DP seeding both, with when they were copied.
    await until(() => c.tracker.packageStatus().packages.filter((p) => p.listed).every((p) => p.sites.filter((s) => s.required).every((s) => s.dps.length === 1 && s.dps[0]!.state === 'seeding')), 'every DP to be seen seeding')
    const status = c.tracker.packageStatus().packages.find((p) => p.id === v2.packageId)!
    expect(status.sites.map((s) => s.site).sort()).toEqual(['branch', 'hub', 'region'])
    expect(status.sites.find((s) => s.site === 'branch')!.dps[0]!.copiedAt).not.toBeNull()

    // Version 1 leaves the list: both DPs free it; version 2 is untouched.
    await c.admin.removePackage(v1.packageId)
    // Files first, then the record: a DP killed in between deletes it again at the next answer.
    await until(() => [region, branch].every((d) => d.replicator.get(v1.packageId) === undefined), 'the DPs to delete version 1')
    for (const d of [region, branch]) {
      expect(existsSync(d.packageDir(v1))).toBe(false)
      expect(await d.node.store.getPackage(v1.packageId)).toBeUndefined()
      expect((await verifyDirectory(v2.manifest, d.packageDir(v2))).ok).toBe(true)
    }
    // The hub published it from its sources: those stay.
    expect((await verifyDirectory(v1.manifest, v1.src)).ok).toBe(true)
  })

  it('holds replication while the link window is closed and starts when it opens', async () => {
    // Closed until noon, a minute after the tracker's clock starts.
    const c = await chain({ regionLink: { default: 'unlimited', windows: ['Mon-Sun 00:00-12:00 0'] } })
    const v1 = await c.packVersion('1', v1Files())
    await c.hub.node.seed(v1, v1.src)
    await c.admin.addPackage(v1.canonical)
    const region = await c.dp(REGION)
    await region.start()
    await until(() => region.replicator.get(v1.packageId)?.state === 'replicating' && region.limits.linkRateOf('region') === 0, 'the region to know its link is closed')
    // Several announce rounds (every second) pass: not a byte crosses the closed link.
    for (let round = 0; round < 3; round++) {
      await new Promise((r) => setTimeout(r, 1000))
      expect(await uploadedTo(c.hub.node, '127.0.1.0/24')).toBe(0)
    }
    expect(region.replicator.get(v1.packageId)?.state).toBe('replicating')

    await c.clock.advance(60_000) // noon: the window ends, the default (unlimited) applies
    await region.reach(v1)
    expect(await uploadedTo(c.hub.node, '127.0.1.0/24')).toBeGreaterThanOrEqual(totalBytes(v1.manifest))
  })

  it('refuses a package from a publisher the DP does not trust, and the tracker shows why', async () => {
    const c = await chain()
    const v1 = await c.packVersion('1', v1Files())
    await c.hub.node.seed(v1, v1.src)
    await c.admin.addPackage(v1.canonical)
    const stranger = publisherOf(loadPublicKey(generatePublisherKeys(join(c.dir, 'stranger')).publicKeyPath))
    const region = await c.dp(REGION, undefined, { trusted: [stranger] })
    await region.start()
    await until(() => region.replicator.get(v1.packageId)?.state === 'failed', 'the region to refuse it')
    expect(region.replicator.get(v1.packageId)!.reason).toMatch(/package refused: .*not a trusted publisher/)
    expect(region.node.swarmOf(v1.packageId)).toBeUndefined()
    expect(existsSync(join(region.dataDir, 'staging'))).toBe(false)
    const regionStatus = () => c.tracker.packageStatus().packages.find((p) => p.id === v1.packageId)!.sites.find((s) => s.site === 'region')!.dps[0]
    await until(() => regionStatus()?.state === 'failed', 'the tracker to show the failure')
    expect(regionStatus()!.reason).toMatch(/not a trusted publisher/)
    expect(await uploadedTo(c.hub.node, '127.0.1.0/24')).toBe(0)
  })

  it('resumes a replication the DP was stopped in the middle of', async () => {
    // 2 MiB/s on the link: the 6.4 MB package takes about three seconds.
    const c = await chain({ regionLink: { default: '2MiB/s' } })
    const v1 = await c.packVersion('1', v1Files())
    await c.hub.node.seed(v1, v1.src)
    await c.admin.addPackage(v1.canonical)
    const region = await c.dp(REGION)
    await region.start()
    await until(() => (region.node.swarmOf(v1.packageId)?.pkg.have.count() ?? 0) >= 1, 'a first piece at the region')
    await region.stop()
    const before = await uploadedTo(c.hub.node, '127.0.1.0/24')

    const again = await c.dp(REGION, region.dataDir)
    const kept = again.node.swarmOf(v1.packageId)?.pkg.presentBytes ?? 0
    expect(kept).toBeGreaterThan(0)
    await again.start()
    await again.reach(v1)
    expect((await verifyDirectory(v1.manifest, again.packageDir(v1))).ok).toBe(true)
    const after = await uploadedTo(c.hub.node, '127.0.1.0/24') - before
    console.log(`resume: ${before} B sent before the stop, ${kept} B kept, ${after} B sent after, for ${totalBytes(v1.manifest)} B`)
    // Only what was missing crossed the link again.
    expect(after).toBeLessThanOrEqual(totalBytes(v1.manifest) - kept)
    expect(again.states).not.toContain('failed')
  })
})
