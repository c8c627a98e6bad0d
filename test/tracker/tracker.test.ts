import { afterEach, describe, expect, it } from 'vitest'
import { LevelTrackerStore, type Tracker } from '../../tracker/index.ts'
import { tempDir } from '../helpers/tmp.ts'
import { announceOf, CONFIG, MONDAY_0759, peerId, PKG, PKG2, trackerAt } from './helpers.ts'

const MBIT2 = 2e6 / 8
const running: Tracker[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((t) => t.stop()))
})

async function started(...args: Parameters<typeof trackerAt>): ReturnType<typeof trackerAt> {
  const t = await trackerAt(...args)
  running.push(t.tracker)
  return t
}

describe('placement', () => {
  it('places a node by the source address, longest prefix, /24 when unconfigured', async () => {
    const { tracker } = await started()
    const a = await tracker.announce(announceOf(peerId(), 'client', 0), '127.0.2.9')
    expect([a.subnet, a.site]).toEqual(['127.0.2.0/24', 'leeds'])
    const b = await tracker.announce(announceOf(peerId(), 'client', 0), '::ffff:127.0.10.3')
    expect([b.subnet, b.site]).toEqual(['127.0.10.0/24', 'dc'])
    const c = await tracker.announce(announceOf(peerId(), 'client', 0), '127.0.77.5')
    expect([c.subnet, c.site]).toEqual(['127.0.77.0/24', null])
  })

  it('rewrites a 0.0.0.0 listen address to the source address', async () => {
    const { tracker } = await started()
    const seeder = peerId()
    await tracker.announce(announceOf(seeder, 'client', 10), '127.0.1.7')
    const a = await tracker.announce(announceOf(peerId(), 'client', 0), '127.0.1.8')
    expect(a.packages[0]!.peers[0]!.addresses[0]).toBe(`/ip4/127.0.1.7/tcp/4001/p2p/${seeder}`)
  })
})

describe('peer handout', () => {
  it('orders same subnet, same site, DPs serving the site, other DPs; more pieces first; never the asker or other sites\' clients', async () => {
    const servingDp = peerId('Serving')
    const { tracker } = await started(MONDAY_0759, undefined, { adminToken: 'a', dpToken: 'd', sites: [{ name: 'dc', subnets: ['127.0.10.0/24'] }, { name: 'leeds', subnets: ['127.0.1.0/24', '127.0.2.0/24'], wan: { maxWanClients: 5 } }, { name: 'york', subnets: ['127.0.3.0/24'] }], dps: [{ peerId: servingDp, serves: ['leeds'] }] })
    const otherDp = peerId('Other')
    await tracker.announce(announceOf(otherDp, 'dp', 10), '127.0.10.2')
    await tracker.announce(announceOf(servingDp, 'dp', 10), '127.0.10.1')
    const yorkClient = peerId('York')
    await tracker.announce(announceOf(yorkClient, 'client', 9), '127.0.3.1')
    const siteLow = peerId('SiteLow')
    const siteHigh = peerId('SiteHigh')
    await tracker.announce(announceOf(siteLow, 'client', 1), '127.0.2.1')
    await tracker.announce(announceOf(siteHigh, 'client', 8), '127.0.2.2')
    const sameLow = peerId('SameLow')
    const sameHigh = peerId('SameHigh')
    await tracker.announce(announceOf(sameLow, 'client', 2), '127.0.1.2')
    await tracker.announce(announceOf(sameHigh, 'client', 5), '127.0.1.3')
    const me = peerId('Me')
    const answer = await tracker.announce(announceOf(me, 'client', 0), '127.0.1.1')
    const got = answer.packages[0]!
    expect(got.lease).not.toBeNull()
    expect(got.peers.map((p) => [p.peerId, p.tier])).toEqual([
      [sameHigh, 'subnet'], [sameLow, 'subnet'],
      [siteHigh, 'site'], [siteLow, 'site'],
      [servingDp, 'dp'],
      [otherDp, 'remote-dp'],
    ])
  })

  it('hands DPs only to lease holders; a complete node gets no peers', async () => {
    const { tracker } = await started()
    await tracker.announce(announceOf(peerId(), 'dp', 10), '127.0.10.1')
    const holder = await tracker.announce(announceOf(peerId(), 'client', 0), '127.0.1.1')
    const other = await tracker.announce(announceOf(peerId(), 'client', 0), '127.0.1.2')
    expect(holder.packages[0]!.peers.map((p) => p.tier)).toContain('remote-dp')
    expect(other.packages[0]!.lease).toBeNull()
    expect(other.packages[0]!.peers.map((p) => p.tier)).toEqual(['subnet'])
    const done = await tracker.announce(announceOf(peerId(), 'client', 10), '127.0.1.3')
    expect(done.packages[0]!.peers).toEqual([])
  })
})

describe('WAN leases', () => {
  it('grants at most maxWanClients per subnet and package; other subnets and packages have their own', async () => {
    const { tracker } = await started()
    const leased = async (ip: string, pkg = PKG): Promise<boolean> => (await tracker.announce(announceOf(peerId(), 'client', 0, 10, {}, pkg), ip)).packages[0]!.lease !== null
    expect(await leased('127.0.1.1')).toBe(true)
    expect(await leased('127.0.1.2')).toBe(false)
    expect(await leased('127.0.2.1')).toBe(true)
    expect(await leased('127.0.1.3', PKG2)).toBe(true)
    // york allows two
    expect([await leased('127.0.3.1'), await leased('127.0.3.2'), await leased('127.0.3.3')]).toEqual([true, true, false])
  })

  it('gives each holder of a package in a subnet its own share of the WAN pulls, in the order granted', async () => {
    const { tracker } = await started()
    const [a, b] = [peerId(), peerId()]
    const share = async (id: string, ip: string) => (await tracker.announce(announceOf(id, 'client', 0), ip)).packages[0]!.lease?.share
    // york allows two holders
    expect(await share(a, '127.0.3.1')).toEqual({ index: 0, of: 1 })
    expect(await share(b, '127.0.3.2')).toEqual({ index: 1, of: 2 })
    expect(await share(a, '127.0.3.1')).toEqual({ index: 0, of: 2 })
    await tracker.announce(announceOf(a, 'client', 10), '127.0.3.1') // a completes: its lease goes back
    expect(await share(b, '127.0.3.2')).toEqual({ index: 0, of: 1 })
  })

  it('splits the subnet budget between its active leases', async () => {
    const { tracker } = await started(MONDAY_0759 + 5 * 60_000) // 08:04: 2 Mbit/s in leeds
    const a = peerId()
    const first = await tracker.announce(announceOf(a, 'client', 0), '127.0.1.1')
    expect(first.packages[0]!.lease!.rateBytesPerSec).toBe(MBIT2)
    await tracker.announce(announceOf(peerId(), 'client', 0, 10, {}, PKG2), '127.0.1.2')
    const again = await tracker.announce(announceOf(a, 'client', 1), '127.0.1.1')
    expect(again.packages[0]!.lease!.rateBytesPerSec).toBe(MBIT2 / 2)
  })

  it('moves on when the holder completes, stops, or stops renewing', async () => {
    const { tracker, clock } = await started()
    const [a, b, c] = [peerId(), peerId(), peerId()]
    expect((await tracker.announce(announceOf(a, 'client', 0), '127.0.1.1')).packages[0]!.lease).not.toBeNull()
    expect((await tracker.announce(announceOf(b, 'client', 0), '127.0.1.2')).packages[0]!.lease).toBeNull()
    // a completes: b gets it at its next announce
    await tracker.announce(announceOf(a, 'client', 10), '127.0.1.1')
    expect((await tracker.announce(announceOf(b, 'client', 3), '127.0.1.2')).packages[0]!.lease).not.toBeNull()
    // b says it stops: c gets it
    await tracker.announce({ ...announceOf(b, 'client', 3), event: 'stopped' }, '127.0.1.2')
    expect((await tracker.announce(announceOf(c, 'client', 0), '127.0.1.3')).packages[0]!.lease).not.toBeNull()
    // c goes silent: its lease (30 s = 3 intervals) expires and a fourth client gets it
    const d = peerId()
    await clock.advance(29_000)
    expect((await tracker.announce(announceOf(d, 'client', 0), '127.0.1.4')).packages[0]!.lease).toBeNull()
    await clock.advance(2_000)
    expect((await tracker.announce(announceOf(d, 'client', 0), '127.0.1.4')).packages[0]!.lease).not.toBeNull()
  })

  it('tells the clients refused a lease when one is handed back, by completion, stop or expiry', async () => {
    const { tracker, clock } = await started()
    const [a, b, c] = [peerId(), peerId(), peerId()]
    const told = async (id: string, version: number): Promise<{ version: number, changed: boolean }> => tracker.waitForChanges(id, version, 60_000)
    await tracker.announce(announceOf(a, 'client', 0), '127.0.1.1')
    await tracker.announce(announceOf(b, 'client', 0), '127.0.1.2')
    await tracker.announce(announceOf(c, 'client', 0, 10, {}, PKG2), '127.0.1.3') // another package: its own slot
    const cTold = tracker.waitForChanges(c, 0, 5_000)
    let first = told(b, 0)
    await tracker.announce(announceOf(a, 'client', 10), '127.0.1.1') // a completes
    const woke = await first
    expect(woke.changed).toBe(true)
    expect((await tracker.announce(announceOf(b, 'client', 3), '127.0.1.2')).packages[0]!.lease).not.toBeNull()
    // b stops: a client refused meanwhile is told; then its lease expires unrenewed: the next one is told too
    const d = peerId()
    await tracker.announce(announceOf(d, 'client', 0), '127.0.1.4')
    first = told(d, woke.version)
    await tracker.announce({ ...announceOf(b, 'client', 3), event: 'stopped' }, '127.0.1.2')
    expect((await first).changed).toBe(true)
    expect((await tracker.announce(announceOf(d, 'client', 0), '127.0.1.4')).packages[0]!.lease).not.toBeNull()
    const e = peerId()
    await tracker.announce(announceOf(e, 'client', 0), '127.0.1.5')
    await clock.advance(20_000)
    await tracker.announce(announceOf(e, 'client', 0), '127.0.1.5') // still refused; d goes silent
    const eTold = told(e, woke.version)
    await clock.advance(11_000)
    expect((await eTold).changed).toBe(true)
    expect((await cTold).changed).toBe(false)
  })

  it('renewed by announcing, a lease is kept past its first expiry', async () => {
    const { tracker, clock } = await started()
    const a = peerId()
    for (let i = 0; i < 5; i++) {
      expect((await tracker.announce(announceOf(a, 'client', i), '127.0.1.1')).packages[0]!.lease).not.toBeNull()
      await clock.advance(10_000)
    }
    expect((await tracker.announce(announceOf(peerId(), 'client', 0), '127.0.1.2')).packages[0]!.lease).toBeNull()
  })
})

describe('budgets', () => {
  it('follow the window: 2 Mbit/s from 08:00 London, DP long-poll wakes at the edge', async () => {
    // The DP's registration outlives the wait: its expiry would wake the long-poll too.
    const { tracker, clock } = await started(MONDAY_0759, undefined, { ...CONFIG, registrationSeconds: 3600 })
    const dp = peerId()
    const first = await tracker.announce(announceOf(dp, 'dp', 10), '127.0.10.1')
    const leeds = (b: typeof first.budgets): unknown => b!.subnets.find((s) => s.subnet === '127.0.1.0/24')!.rateBytesPerSec
    expect(leeds(first.budgets)).toBeNull()
    // the DP's own site is never limited; york has its 10 MiB/s default
    expect(first.budgets!.subnets.find((s) => s.subnet === '127.0.10.0/24')!.rateBytesPerSec).toBeNull()
    expect(first.budgets!.subnets.find((s) => s.subnet === '127.0.3.0/24')!.rateBytesPerSec).toBe(10 * 1024 * 1024)
    let woke: number | undefined
    void tracker.waitForBudgets(first.budgets!.version, 120_000).then((v) => { woke = v })
    await clock.advance(59_000)
    expect(woke).toBeUndefined()
    await clock.advance(1_000)
    expect(woke).toBe(first.budgets!.version + 1)
    expect(leeds(tracker.budgetList('dc'))).toBe(MBIT2)
    // 18:00 back to unlimited
    await clock.advance(10 * 3600_000)
    expect(leeds(tracker.budgetList('dc'))).toBeNull()
  })

  it('an operator override wins over the config, per subnet over site, and clears back', async () => {
    const { tracker } = await started(MONDAY_0759 + 3600_000) // 08:59
    expect(tracker.budgets.budgetOf('127.0.2.0/24').rate).toBe(MBIT2)
    await tracker.setOverride('subnet:127.0.2.0/24', { windows: ['Mon-Fri 08:00-18:00 1Mbit/s'] })
    expect(tracker.budgets.budgetOf('127.0.2.0/24')).toMatchObject({ rate: 1e6 / 8, decidedBy: 'subnet' })
    expect(tracker.budgets.budgetOf('127.0.1.0/24').rate).toBe(MBIT2)
    await tracker.setOverride('site:leeds', { windows: ['Mon-Fri 08:00-18:00 0'], maxWanClients: 3 })
    expect(tracker.budgets.budgetOf('127.0.1.0/24').rate).toBe(0)
    expect(tracker.budgets.maxWanClientsOf('127.0.1.0/24')).toBe(3)
    expect(await tracker.clearOverride('site:leeds')).toBe(true)
    expect(tracker.budgets.budgetOf('127.0.1.0/24').rate).toBe(MBIT2)
  })

  it('refuses a bad override with a clear error and changes nothing', async () => {
    const { tracker } = await started()
    await expect(tracker.setOverride('site:leeds', { windows: ['Mon-Fri 25:00-18:00 2Mbit/s'] })).rejects.toMatchObject({ code: 'PEERSTAGE_TRACKER_BAD_REQUEST' })
    await expect(tracker.setOverride('site:leeds', { default: '2 megabits' })).rejects.toThrow(/not a rate|unit/)
    await expect(tracker.setOverride('site:nowhere', { default: '0' })).rejects.toMatchObject({ code: 'PEERSTAGE_TRACKER_NOT_FOUND' })
    expect(tracker.budgets.override('site:leeds')).toBeUndefined()
  })
})

describe('persistence', () => {
  it('a restarted tracker resumes registrations, leases, overrides and byte totals', async () => {
    const dir = tempDir()
    const first = await trackerAt(MONDAY_0759, await LevelTrackerStore.open(dir))
    const [a, b] = [peerId(), peerId()]
    await first.tracker.announce(announceOf(a, 'client', 2, 10, { packages: [{ id: PKG, have: 2, pieces: 10, bytes: { wan: 5000, lan: 10 } }] }), '127.0.1.1')
    await first.tracker.announce(announceOf(b, 'client', 0), '127.0.1.2')
    await first.tracker.setOverride('site:leeds', { default: '5MiB/s' })
    await first.tracker.stop()
    await first.store.close()

    const second = await trackerAt(MONDAY_0759 + 20_000, await LevelTrackerStore.open(dir))
    running.push(second.tracker)
    try {
      expect(second.tracker.registrations).toBe(2)
      expect(second.tracker.budgets.override('site:leeds')).toEqual({ default: '5MiB/s' })
      // a still holds the lease; b still does not
      expect((await second.tracker.announce(announceOf(b, 'client', 1), '127.0.1.2')).packages[0]!.lease).toBeNull()
      expect((await second.tracker.announce(announceOf(a, 'client', 3, 10, { packages: [{ id: PKG, have: 3, pieces: 10, bytes: { wan: 7000, lan: 10 } }] }), '127.0.1.1')).packages[0]!.lease).not.toBeNull()
      const subnet = (second.tracker.status().sites as any[]).find((s) => s.name === 'leeds').subnets[0]
      expect(subnet.packages).toEqual([{ packageId: PKG, name: null, version: null, lanBytes: 10, wanBytes: 7000, reusedBytes: 0, dpUploadBytes: 0 }])
    } finally {
      await second.tracker.stop()
      running.pop()
      await second.store.close()
    }
  })

  it('drops what expired while it was down', async () => {
    const dir = tempDir()
    const first = await trackerAt(MONDAY_0759, await LevelTrackerStore.open(dir))
    await first.tracker.announce(announceOf(peerId(), 'client', 0), '127.0.1.1')
    await first.tracker.stop()
    await first.store.close()
    const second = await trackerAt(MONDAY_0759 + 3600_000, await LevelTrackerStore.open(dir))
    expect(second.tracker.registrations).toBe(0)
    expect(await second.store.list('lease')).toEqual([])
    await second.tracker.stop()
    await second.store.close()
  })
})
