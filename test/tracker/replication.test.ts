import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { generatePublisherKeys, loadPrivateKey, pack, type PackResult, type PublisherKeyFiles } from '../../chunker/index.ts'
import { createTrackerConfig, LevelTrackerStore, ReplicaPlan, type CataloguePackage, type Tracker } from '../../tracker/index.ts'
import { writeTree } from '../helpers/packages.ts'
import { pseudoRandomBytes, tempDir } from '../helpers/tmp.ts'
import { announceOf, MONDAY_0759, peerId, PKG, trackerAt } from './helpers.ts'

const MIB = 1024 * 1024
const running: Tracker[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((t) => t.stop()))
})

/** hub → region → branch, and dc2 on its own; the region's link is 5 MiB/s in office hours (UTC), 50 MiB/s otherwise. */
function chainConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    adminToken: 'admin-s3cret',
    dpToken: 'dp-s3cret',
    announceIntervalSeconds: 10,
    sites: [
      { name: 'hub', subnets: ['127.0.10.0/24'] },
      { name: 'region', subnets: ['127.0.1.0/24', '127.0.4.0/24'], parent: 'hub', link: { default: '50MiB/s', windows: ['Mon-Fri 08:00-18:00 5MiB/s'] }, replicate: ['win11@*'] },
      { name: 'branch', subnets: ['127.0.2.0/24'], parent: 'region', link: { default: 'unlimited' } },
      { name: 'dc2', subnets: ['127.0.3.0/24'] },
    ],
    ...extra,
  }
}

async function started(config: Record<string, unknown> = chainConfig(), startMs = MONDAY_0759, store?: LevelTrackerStore): ReturnType<typeof trackerAt> {
  const t = await trackerAt(startMs, store, config)
  running.push(t.tracker)
  return t
}

/** A package NAME@VERSION signed by `keys`. */
async function signed(dir: string, keys: PublisherKeyFiles, name: string, version: string): Promise<PackResult> {
  const src = join(dir, `src-${name}-${version}`)
  writeTree(src, { 'data.bin': pseudoRandomBytes(50_000, name.length + version.length), 'setup.cmd': '@echo off\r\n' })
  return pack(src, { name, version, privateKey: loadPrivateKey(keys.privateKeyPath), programs: [{ name: 'install', command: 'setup.cmd', args: [] }] })
}

const entry = (name: string, version: string): CataloguePackage => ({ id: `${name}@${version}`, name, version, publisher: 'ed25519:x', bytes: 1, addedAt: '2026-01-01T00:00:00.000Z' })

describe('link budgets', () => {
  it('follow the link window at its edge with a fake clock, bump the version, and show in the budget list', async () => {
    const { tracker, clock } = await started()
    expect(tracker.budgets.linkRateOf('region')).toBe(50 * MIB)
    expect(tracker.budgets.linkRateOf('hub')).toBeUndefined() // a root site has no link
    expect(tracker.budgetList(undefined).links).toEqual([
      { site: 'region', parent: 'hub', rateBytesPerSec: 50 * MIB },
      { site: 'branch', parent: 'region', rateBytesPerSec: null },
    ])
    const before = tracker.budgets.version
    let woke: number | undefined
    void tracker.waitForBudgets(before, 600_000).then((v) => { woke = v })
    await clock.advance(59_000)
    expect(woke).toBeUndefined()
    await clock.advance(1_000) // 08:00
    expect(woke).toBe(before + 1)
    expect(tracker.budgets.linkRateOf('region')).toBe(5 * MIB)
    expect(tracker.budgets.linkOf('region')).toMatchObject({ site: 'region', parent: 'hub', rate: 5 * MIB, rule: 'Mon-Fri 08:00-18:00 5MiB/s', nextChangeAt: new Date(MONDAY_0759 + 60_000 + 10 * 3600_000) })
    expect(tracker.budgetList('region').links[0]).toEqual({ site: 'region', parent: 'hub', rateBytesPerSec: 5 * MIB })
    const site = (tracker.status().sites as any[]).find((s) => s.name === 'region')
    expect(site).toMatchObject({ parent: 'hub', link: { rateBytesPerSec: 5 * MIB, rule: 'Mon-Fri 08:00-18:00 5MiB/s' } })
    await clock.advance(10 * 3600_000) // 18:00
    expect(tracker.budgets.linkRateOf('region')).toBe(50 * MIB)
    expect(tracker.budgets.version).toBe(before + 2)
  })
})

describe('what each site replicates', () => {
  it('a site holds what its globs match plus what every site below it must hold; a DP in no site holds nothing', () => {
    const { sites } = createTrackerConfig(chainConfig({
      sites: [
        { name: 'hub', replicate: ['nothing@*'] },
        { name: 'region', parent: 'hub', replicate: ['win11@*'] },
        { name: 'branch', parent: 'region' },
        { name: 'kiosk', parent: 'hub', replicate: ['office@?'] },
        { name: 'lab', replicate: ['drivers@2026.*'] },
      ],
    }))
    const plan = new ReplicaPlan(sites, [entry('win11', '24H2'), entry('office', '1'), entry('office', '10'), entry('drivers', '2026.1')])
    const names = (site: string | undefined): string[] => plan.offersFor(site).map((o) => `${o.name}@${o.version}`)
    expect(names('branch')).toEqual(['win11@24H2', 'office@1', 'office@10', 'drivers@2026.1'])
    // office@* reaches the region only because the branch needs it: replication never skips a level.
    expect(names('region')).toEqual(['win11@24H2', 'office@1', 'office@10', 'drivers@2026.1'])
    expect(names('kiosk')).toEqual(['office@1'])
    expect(names('hub')).toEqual(['win11@24H2', 'office@1', 'office@10', 'drivers@2026.1'])
    expect(names('lab')).toEqual(['drivers@2026.1'])
    expect(names(undefined)).toEqual([])
    expect(plan.offersFor('region')[0]).toEqual({ id: 'win11@24H2', name: 'win11', version: '24H2' })
    expect([plan.requires('kiosk', 'office@1'), plan.requires('kiosk', 'office@10')]).toEqual([true, false])
  })

  it('tells each DP in its announce answer, from the catalogue, kept across a restart', async () => {
    const dir = tempDir()
    const keys = generatePublisherKeys(join(dir, 'keys'))
    const win = await signed(dir, keys, 'win11', '24H2')
    const office = await signed(dir, keys, 'office', '1')
    const config = chainConfig({ trust: [keys.publicKeyPath], sites: [...(chainConfig().sites as object[]).slice(0, 3), { name: 'dc2', subnets: ['127.0.3.0/24'], replicate: ['win11@*'] }] })
    const store = await LevelTrackerStore.open(join(dir, 'state'))
    const first = await started(config, MONDAY_0759, store)
    const replicate = async (t: Tracker, ip: string): Promise<string[]> => (await t.announce(announceOf(peerId('Dp'), 'dp', 0, 10, { packages: [] }), ip)).replicate!.map((o) => `${o.name}@${o.version}`)
    expect(await replicate(first.tracker, '127.0.1.1')).toEqual([])
    expect((await first.tracker.addPackage(win.canonical)).created).toBe(true)
    expect((await first.tracker.addPackage(office.canonical)).created).toBe(true)
    expect(await first.tracker.addPackage(office.canonical)).toMatchObject({ created: false, entry: { id: office.packageId } })
    expect(await replicate(first.tracker, '127.0.2.1')).toEqual(['win11@24H2', 'office@1'])
    expect(await replicate(first.tracker, '127.0.1.1')).toEqual(['win11@24H2', 'office@1']) // office@1: the branch needs it
    expect(await replicate(first.tracker, '127.0.3.1')).toEqual(['win11@24H2'])
    expect(await replicate(first.tracker, '127.0.77.1')).toEqual([])
    // Clients get none.
    expect((await first.tracker.announce(announceOf(peerId(), 'client', 0), '127.0.2.9')).replicate).toBeUndefined()
    await first.tracker.stop()
    running.pop()
    await store.close()

    const second = await started(config, MONDAY_0759 + 60_000, await LevelTrackerStore.open(join(dir, 'state')))
    try {
      expect(second.tracker.listPackages().map((p) => p.id).sort()).toEqual([win.packageId, office.packageId].sort())
      expect(second.tracker.manifest(office.packageId)).toBe(office.canonical)
      expect(await replicate(second.tracker, '127.0.3.1')).toEqual(['win11@24H2'])
      await second.tracker.removePackage(win.packageId)
      expect(await replicate(second.tracker, '127.0.1.1')).toEqual(['office@1'])
      expect(() => second.tracker.manifest(win.packageId)).toThrow(/neither the catalogue nor a deployment names it/)
    } finally {
      await second.tracker.stop()
      running.pop()
      await second.store.close()
    }
  })
})

describe('peers for a DP', () => {
  it('DPs holding or fetching it, fuller first: its own site\'s (subnet, then site), then its parent site\'s; never clients, other sites, or itself', async () => {
    const { tracker } = await started()
    const announce = async (id: string, role: 'client' | 'dp', have: number, ip: string) => tracker.announce(announceOf(id, role, have), ip)
    const [sameSubnet, otherSubnet, empty, parent, child, unrelated, client] = ['SameSubnet', 'OtherSubnet', 'Empty', 'Parent', 'Child', 'Unrelated', 'Client'].map((n) => peerId(n))
    await announce(sameSubnet!, 'dp', 3, '127.0.1.6')
    await announce(otherSubnet!, 'dp', 5, '127.0.4.6')
    await announce(empty!, 'dp', 0, '127.0.1.7')
    await announce(parent!, 'dp', 10, '127.0.10.1')
    await announce(child!, 'dp', 10, '127.0.2.1')
    await announce(unrelated!, 'dp', 10, '127.0.3.1')
    await announce(client!, 'client', 10, '127.0.1.8')
    const me = peerId('Me')
    const answer = await announce(me, 'dp', 0, '127.0.1.5')
    expect(answer.packages[0]!.lease).toBeNull()
    expect(answer.packages[0]!.peers.map((p) => [p.peerId, p.tier])).toEqual([[sameSubnet, 'subnet'], [empty, 'subnet'], [otherSubnet, 'site'], [parent, 'parent-dp']])
    // A DP of a root site: its own site's DPs only.
    const hubAnswer = await announce(peerId('Hub'), 'dp', 1, '127.0.10.2')
    expect(hubAnswer.packages[0]!.peers.map((p) => [p.peerId, p.tier])).toEqual([[parent, 'subnet']])
    // The branch replicates from the region, never from the hub.
    const branchAnswer = await announce(peerId('Branch'), 'dp', 0, '127.0.2.2')
    const branchPeers = branchAnswer.packages[0]!.peers.map((p) => [p.peerId, p.tier])
    expect(branchPeers.slice(0, 3)).toEqual([[child, 'subnet'], [otherSubnet, 'parent-dp'], [sameSubnet, 'parent-dp']])
    // The region's DPs with nothing yet come last (equals in random order): their pieces flow down as they arrive.
    expect(branchPeers.slice(3).sort()).toEqual([[empty, 'parent-dp'], [me, 'parent-dp']].sort())
  })
})

describe('peers for a client', () => {
  it('with a lease: LAN, DPs serving the site, then DPs up the chain parent first, then every other DP', async () => {
    const serving = peerId('Serving')
    const { tracker } = await started(chainConfig({ dps: [{ peerId: serving, serves: ['branch'] }] }))
    const branchDp = peerId('BranchDp')
    const regionDp = peerId('RegionDp')
    const hubDp = peerId('HubDp')
    const otherDp = peerId('OtherDp')
    await tracker.announce(announceOf(branchDp, 'dp', 2), '127.0.2.1')
    // The hub's DP holds more: order up the chain still puts the region's first.
    await tracker.announce(announceOf(regionDp, 'dp', 1), '127.0.1.1')
    await tracker.announce(announceOf(hubDp, 'dp', 10), '127.0.10.1')
    await tracker.announce(announceOf(otherDp, 'dp', 10), '127.0.3.1')
    await tracker.announce(announceOf(serving, 'dp', 4), '127.0.3.2')
    const pc = peerId('Pc')
    const leased = await tracker.announce(announceOf(pc, 'client', 0), '127.0.2.9')
    expect(leased.packages[0]!.lease).not.toBeNull()
    expect(leased.packages[0]!.peers.map((p) => [p.peerId, p.tier])).toEqual([
      [branchDp, 'subnet'], [serving, 'dp'], [regionDp, 'upstream-dp'], [hubDp, 'upstream-dp'], [otherDp, 'remote-dp'],
    ])
    // Without a lease: the LAN only (the site's own DP among it).
    const waiting = await tracker.announce(announceOf(peerId('Pc'), 'client', 0), '127.0.2.10')
    expect(waiting.packages[0]!.lease).toBeNull()
    expect(waiting.packages[0]!.peers.map((p) => p.peerId)).toEqual([branchDp, pc])
  })

  it('needs no lease where its own site\'s DP holds the whole package: the LAN serves it, no DP across the WAN races it', async () => {
    const { tracker } = await started()
    const branchDp = peerId('BranchDp')
    await tracker.announce(announceOf(peerId('RegionDp'), 'dp', 10), '127.0.1.1')
    await tracker.announce(announceOf(branchDp, 'dp', 10), '127.0.2.1')
    const pc = peerId('Pc')
    const served = await tracker.announce(announceOf(pc, 'client', 0), '127.0.2.9')
    expect(served.packages[0]!.lease).toBeNull()
    expect(served.packages[0]!.peers.map((p) => [p.peerId, p.tier])).toEqual([[branchDp, 'subnet']])
    // The site's DP still replicating: the client may go upstream under a lease.
    await tracker.announce(announceOf(branchDp, 'dp', 3), '127.0.2.1')
    const leased = await tracker.announce(announceOf(pc, 'client', 0), '127.0.2.9')
    expect(leased.packages[0]!.lease).not.toBeNull()
    expect(leased.packages[0]!.peers.map((p) => p.tier)).toEqual(['subnet', 'upstream-dp'])
  })
})

describe('the DPs in the budget list', () => {
  it('lists registered DPs with their sites, and bumps the version when one comes, moves, stops or expires', async () => {
    const { tracker, clock } = await started()
    const dps = () => tracker.budgetList(undefined).dps
    const dp = peerId('Dp')
    let version = tracker.budgets.version
    let woke: number | undefined
    void tracker.waitForBudgets(version, 600_000).then((v) => { woke = v })
    const first = await tracker.announce(announceOf(dp, 'dp', 10), '127.0.1.1')
    expect(woke).toBe(version + 1)
    expect(first.budgets!.version).toBe(version + 1)
    expect(first.budgets!.dps).toEqual([{ peerId: dp, site: 'region' }])
    version = tracker.budgets.version
    await tracker.announce(announceOf(dp, 'dp', 10), '127.0.1.1')
    await tracker.announce(announceOf(peerId(), 'client', 0), '127.0.1.2')
    expect(tracker.budgets.version).toBe(version) // a renewal or a client changes nothing
    // A peer id is bound to its subnet: it moves once an admin releases it.
    await expect(tracker.announce(announceOf(dp, 'dp', 10), '127.0.10.7')).rejects.toMatchObject({ code: 'PEERSTAGE_TRACKER_PEER_BOUND' })
    expect(await tracker.releaseNode(dp)).toEqual({ peerId: dp, released: true })
    await tracker.announce(announceOf(dp, 'dp', 10), '127.0.10.7')
    expect(tracker.budgets.version).toBeGreaterThan(version)
    expect(dps()).toEqual([{ peerId: dp, site: 'hub' }])
    version = tracker.budgets.version
    const lost = peerId('Lost')
    await tracker.announce(announceOf(lost, 'dp', 10), '127.0.77.1')
    expect(dps()).toContainEqual({ peerId: lost, site: null })
    version = tracker.budgets.version
    await tracker.announce({ ...announceOf(dp, 'dp', 10), event: 'stopped' }, '127.0.10.7')
    expect(tracker.budgets.version).toBe(version + 1)
    expect(dps().map((d) => d.peerId)).not.toContain(dp)
    version = tracker.budgets.version
    await clock.advance(35_000) // 3 intervals: the lost DP's registration expires
    expect(dps()).toEqual([])
    expect(tracker.budgets.version).toBe(version + 1)
  })
})
