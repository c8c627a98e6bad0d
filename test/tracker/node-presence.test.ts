import { afterEach, describe, expect, it } from 'vitest'
import { MemoryTrackerStore, type NodeSummary, type Tracker } from '../../tracker/index.ts'
import { tempDir } from '../helpers/tmp.ts'
import { announceOf, MONDAY_0759, peerId, serveTracker, signedPackage, SigningTrackerClient, trackerAt, trustingConfig } from './helpers.ts'

const HOUR = 3600_000
const at = (ms: number): string => new Date(MONDAY_0759 + ms).toISOString()
const running: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const stop of running.splice(0).reverse()) await stop()
})

/** The node rows `status` lists for one subnet. */
function listed(tracker: Tracker, cidr: string): NodeSummary[] {
  const s = tracker.status() as { sites: Array<{ subnets: Array<{ subnet: string, nodeList: NodeSummary[] }> }>, unassigned: Array<{ subnet: string, nodeList: NodeSummary[] }> }
  return [...s.sites.flatMap((x) => x.subnets), ...s.unassigned].find((n) => n.subnet === cidr)!.nodeList
}

async function world(store = new MemoryTrackerStore()) {
  const dir = tempDir()
  const pkg = await signedPackage(dir)
  const t = await trackerAt(MONDAY_0759, store, trustingConfig(pkg.keys.publicKeyPath))
  running.push(() => t.tracker.stop())
  const d = await t.tracker.createDeployment({ manifest: pkg.canonical, program: 'install', targets: ['site:leeds'], availableAt: at(0), mandatoryAt: at(HOUR) })
  return { ...t, pkg, d, dir }
}

const SWARM_KEY_PROBLEM = { code: 'PEERSTAGE_NODE_SWARM_KEY_MISMATCH', message: 'cannot join any peer handed out for win11@24H2: the two sides hold different swarm keys', since: at(0) }

describe('nodes as the tracker shows them', () => {
  it('lists each node by name, peer id, address and version, with the problem it reports, in status and deploy show', async () => {
    const w = await world()
    const pc = peerId()
    const dp = peerId()
    await w.tracker.announce(announceOf(pc, 'client', 0, 10, { name: 'leeds-pc-1', version: '0.1.0', problem: SWARM_KEY_PROBLEM, packages: [{ id: w.pkg.packageId, have: 0, pieces: 10 }],
      deployments: [{ id: w.d.id, state: 'downloading', progress: 0, bytes: { lan: 0, wan: 0, reused: 0 }, verifyFailures: 0, updatedAt: at(0) }] }), '127.0.1.7')
    // An older node: no name, no version, no problem field. Still served, and listed.
    await w.tracker.announce(announceOf(dp, 'dp', 10, 10, {}, w.pkg.packageId), '127.0.1.2')
    const nodes = listed(w.tracker, '127.0.1.0/24')
    expect(nodes).toEqual([
      { peerId: pc, name: 'leeds-pc-1', role: 'client', address: '127.0.1.7', subnet: '127.0.1.0/24', site: 'leeds', version: '0.1.0', presence: 'online', lastSeenAt: at(0), problem: SWARM_KEY_PROBLEM },
      { peerId: dp, name: null, role: 'dp', address: '127.0.1.2', subnet: '127.0.1.0/24', site: 'leeds', version: null, presence: 'online', lastSeenAt: at(0), problem: null },
    ])
    const client = w.tracker.deploymentStatus(w.d.id).sites[0]!.subnets[0]!.clients[0]!
    expect(client).toMatchObject({ peerId: pc, state: 'downloading', progress: 0, node: { name: 'leeds-pc-1', address: '127.0.1.7', presence: 'online', problem: SWARM_KEY_PROBLEM } })
    // Packages by NAME@VERSION where the tracker knows them.
    await w.tracker.announce(announceOf(pc, 'client', 1, 10, { name: 'leeds-pc-1', packages: [{ id: w.pkg.packageId, have: 1, pieces: 10, bytes: { lan: 100 } }] }), '127.0.1.7')
    const subnet = (w.tracker.status() as any).sites.find((s: any) => s.name === 'leeds').subnets[0]
    expect(subnet.packages).toEqual([expect.objectContaining({ packageId: w.pkg.packageId, name: 'win11', version: '24H2' })])
    // The problem goes with the announce that no longer carries it.
    expect(listed(w.tracker, '127.0.1.0/24').find((n) => n.peerId === pc)!.problem).toBeNull()
  })

  it('shows a node that stopped announcing as offline with when it was last seen, and one that said goodbye as stopped', async () => {
    const w = await world()
    const silent = peerId()
    const leaving = peerId()
    const report = { id: w.d.id, state: 'downloading' as const, progress: 0.1, bytes: { lan: 0, wan: 0, reused: 0 }, verifyFailures: 0, updatedAt: at(0) }
    await w.tracker.announce(announceOf(silent, 'client', 1, 10, { name: 'leeds-pc-2', deployments: [report] }), '127.0.1.8')
    await w.clock.advance(5_000)
    await w.tracker.announce(announceOf(leaving, 'client', 1, 10, { name: 'leeds-pc-3' }), '127.0.1.9')
    await w.tracker.announce(announceOf(leaving, 'client', 1, 10, { name: 'leeds-pc-3', event: 'stopped' }), '127.0.1.9')
    expect(listed(w.tracker, '127.0.1.0/24').map((n) => [n.name, n.presence])).toEqual([['leeds-pc-2', 'online'], ['leeds-pc-3', 'stopped']])
    // Past its registration (3 announce intervals of 10 s) without a word: offline, last seen at its last announce.
    await w.clock.advance(40_000)
    const nodes = listed(w.tracker, '127.0.1.0/24')
    expect(nodes.map((n) => [n.name, n.presence, n.lastSeenAt])).toEqual([['leeds-pc-2', 'offline', at(0)], ['leeds-pc-3', 'stopped', at(5_000)]])
    expect(w.tracker.registrations).toBe(0)
    const client = w.tracker.deploymentStatus(w.d.id).sites[0]!.subnets[0]!.clients[0]!
    expect(client).toMatchObject({ peerId: silent, state: 'downloading', node: { name: 'leeds-pc-2', presence: 'offline', lastSeenAt: at(0) } })
    // Back again: online, and no longer among the departed.
    await w.tracker.announce(announceOf(silent, 'client', 2, 10, { name: 'leeds-pc-2' }), '127.0.1.8')
    expect(listed(w.tracker, '127.0.1.0/24').map((n) => [n.name, n.presence])).toEqual([['leeds-pc-2', 'online'], ['leeds-pc-3', 'stopped']])
  })

  it('a restarted tracker shows nodes that went silent while it was down as offline since their last announce', async () => {
    const store = new MemoryTrackerStore()
    const w = await world(store)
    const pc = peerId()
    await w.tracker.announce(announceOf(pc, 'client', 1, 10, { name: 'leeds-pc-4', version: '0.1.0' }), '127.0.1.10')
    await w.tracker.stop()
    const again = await trackerAt(MONDAY_0759 + 10 * 60_000, store, trustingConfig(w.pkg.keys.publicKeyPath))
    running.push(() => again.tracker.stop())
    expect(listed(again.tracker, '127.0.1.0/24')).toEqual([expect.objectContaining({ peerId: pc, name: 'leeds-pc-4', version: '0.1.0', presence: 'offline', lastSeenAt: at(0) })])
  })

  it('refuses a name with white space or a problem without a PEERSTAGE_ code, naming the field (HTTP 400), and takes an announce without either', async () => {
    const w = await world()
    const { app, url } = await serveTracker(w.tracker)
    running.push(() => app.close())
    const client = new SigningTrackerClient({ url, localAddress: '127.0.1.11' })
    running.push(async () => client.close())
    const pc = peerId()
    // Signed by the tracker's (fake) clock, each later than the last.
    let signedAt = MONDAY_0759
    const announce = (extra: Parameters<typeof announceOf>[4]) => client.announce(announceOf(pc, 'client', 0, 10, extra), undefined, () => ++signedAt)
    await expect(announce({ name: 'leeds pc' })).rejects.toMatchObject({ code: 'PEERSTAGE_TRACKER_BAD_REQUEST', message: expect.stringContaining('name') })
    await expect(announce({ problem: { code: 'disk full', message: 'x', since: at(0) } })).rejects.toMatchObject({ code: 'PEERSTAGE_TRACKER_BAD_REQUEST', message: expect.stringContaining('problem') })
    await expect(announce({ name: 'x'.repeat(254) })).rejects.toMatchObject({ code: 'PEERSTAGE_TRACKER_BAD_REQUEST' })
    expect((await announce({ name: 'leeds-pc-5.corp.example', version: '0.2.0-rc.1' })).subnet).toBe('127.0.1.0/24')
  })
})
