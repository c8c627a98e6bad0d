import { afterEach, describe, expect, it } from 'vitest'
import { RedisTrackerStore, type Tracker } from '../../tracker/index.ts'
import { redisMissing, startRedis, type RunningRedis } from '../helpers/redis.ts'
import { tempDir } from '../helpers/tmp.ts'
import { until } from '../helpers/until.ts'
import { announceOf, CONFIG, MONDAY_0759, peerId, PKG, signedPackage, trackerAt, trustingConfig } from './helpers.ts'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** Two tracker replicas (same config, same fake time) on one real Redis. */
async function replicas(config: unknown): Promise<{ a: Tracker, b: Tracker, redis: RunningRedis }> {
  const redis = await startRedis({ appendonly: false })
  cleanups.push(redis.stop)
  const one = async (): Promise<Tracker> => {
    const store = await RedisTrackerStore.open(redis.url)
    const { tracker } = await trackerAt(MONDAY_0759, store, config)
    cleanups.push(async () => {
      await tracker.stop()
      await store.close()
    })
    return tracker
  }
  return { a: await one(), b: await one(), redis }
}

const leased = async (t: Tracker, id: string, ip: string): Promise<boolean> => (await t.announce(announceOf(id, 'client', 0), ip)).packages[0]!.lease !== null

describe.skipIf(redisMissing)('tracker replicas sharing one Redis', () => {
  it('grant a slot\'s leases together, never more than its limit; a lease handed back on one is free on the other', async () => {
    const { a, b } = await replicas(CONFIG)
    const york = [peerId(), peerId(), peerId()] // york: maxWanClients 2
    expect(await leased(a, york[0]!, '127.0.3.1')).toBe(true)
    expect(await leased(b, york[1]!, '127.0.3.2')).toBe(true)
    expect(await leased(a, york[2]!, '127.0.3.3')).toBe(false)
    expect(await leased(b, york[2]!, '127.0.3.3')).toBe(false)
    expect(await leased(b, york[0]!, '127.0.3.1')).toBe(true) // a renewal, on the other replica
    const told = a.waitForChanges(york[2]!, 0, 10_000)
    await b.announce(announceOf(york[1]!, 'client', 0, 10, { event: 'stopped' }), '127.0.3.2')
    expect((await told).changed).toBe(true) // refused on A, told when B took the lease back
    // A full slot is refused without asking Redis: A hears of the release first (the feed's delay).
    await until(() => a.leasesBySubnet().get('127.0.3.0/24') === 1, 'A to see the lease handed back')
    expect(await leased(a, york[2]!, '127.0.3.3')).toBe(true)
    await until(() => b.leasesBySubnet().get('127.0.3.0/24') === 2 && a.leasesBySubnet().get('127.0.3.0/24') === 2, 'both replicas to see two leases')
  })

  it('see each other\'s registrations, overrides, byte totals, catalogue and deployments, and wake their own clients for a deployment made on the other', async () => {
    const pkg = await signedPackage(tempDir())
    const { a, b } = await replicas(trustingConfig(pkg.keys.publicKeyPath))
    const client = peerId()
    await b.announce(announceOf(client, 'client', 0), '127.0.1.5')
    await until(() => a.registrations === 1, 'A to see the client registered on B')

    const woken = b.waitForChanges(client, 0, 10_000)
    const d = await a.createDeployment({ manifest: pkg.canonical, program: 'install', targets: ['site:leeds'], availableAt: new Date(MONDAY_0759).toISOString(), mandatoryAt: new Date(MONDAY_0759 + 3600_000).toISOString() })
    expect((await woken).changed).toBe(true)
    expect((await b.announce(announceOf(client, 'client', 0), '127.0.1.5')).deployments.map((o) => o.id)).toEqual([d.id])
    expect(b.listPackages().map((p) => p.id)).toEqual([pkg.packageId])
    expect(b.manifest(pkg.packageId)).toBe(pkg.canonical)

    await a.setOverride('site:york', { default: '3MiB/s' })
    await until(() => b.budgets.override('site:york')?.default === '3MiB/s', 'the override on B')

    // WAN bytes reported through either replica add up on both.
    await a.announce(announceOf(peerId(), 'client', 0, 10, { packages: [{ id: PKG, have: 0, pieces: 10, bytes: { wan: 100 } }] }), '127.0.1.6')
    await b.announce(announceOf(peerId(), 'client', 0, 10, { packages: [{ id: PKG, have: 0, pieces: 10, bytes: { wan: 50 } }] }), '127.0.1.7')
    const wanOf = (t: Tracker): unknown => (t.status() as any).sites.find((s: any) => s.name === 'leeds').subnets.find((n: any) => n.subnet === '127.0.1.0/24').packages.find((p: any) => p.packageId === PKG)?.wanBytes
    await until(() => wanOf(a) === 150 && wanOf(b) === 150, 'both replicas to count 150 WAN bytes')

    await a.cancelDeployment(d.id)
    await until(() => b.getDeployment(d.id).cancelledAt !== null, 'the cancel on B')
  })

  it('after the feed was cut, reload from the store: what it no longer holds goes', async () => {
    const { a, b, redis } = await replicas(CONFIG)
    await a.setOverride('site:york', { default: '3MiB/s' })
    await until(() => b.budgets.override('site:york') !== undefined, 'the override on B')
    // Dropped behind the replicas' backs (no batch published), then every subscriber cut off.
    await redis.command(['HDEL', 'peerstage:override', 'site:york'])
    await redis.command(['CLIENT', 'KILL', 'TYPE', 'pubsub'])
    await until(() => a.budgets.override('site:york') === undefined && b.budgets.override('site:york') === undefined, 'both replicas to reload')
  })
})
