import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createDp, createFetcher } from '../../node/index.ts'
import { TrackerClient } from '../../tracker/index.ts'
import { newSwarmKey, on, started } from '../helpers/nodes.ts'
import { packSample, sampleTree } from '../helpers/packages.ts'
import { tempDir } from '../helpers/tmp.ts'
import { until } from '../helpers/until.ts'
import { startServedTracker } from '../tracker/helpers.ts'

const stops: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop()
})

/** A tracker process's worth (tracker + HTTP server) in this process, stopped after the test. */
async function startTracker() {
  const { tracker, url, stop } = await startServedTracker({
    adminToken: 'admin', dpToken: 'dp', announceIntervalSeconds: 1,
    sites: [{ name: 'dc', subnets: ['127.0.10.0/24'] }, { name: 'leeds', subnets: ['127.0.1.0/24'] }],
  })
  stops.push(stop)
  /** Nodes registered, DPs and clients, over every subnet. */
  const nodes = (): number => (tracker.status().sites as Array<{ subnets: Array<{ nodes: { clients: number, dps: number } }> }>)
    .flatMap((site) => site.subnets).reduce((n, s) => n + s.nodes.clients + s.nodes.dps, 0)
  return { tracker, url, stop, nodes }
}

describe('nodes that name several trackers', () => {
  it('the tracker client goes to the next when one does not answer, and stays with the one that did', async () => {
    const a = await startTracker()
    const b = await startTracker()
    const client = new TrackerClient({ url: [a.url, b.url], token: 'admin' })
    stops.push(async () => client.close())
    expect((await client.status()).sites).toBeDefined()
    expect(client.url.origin).toBe(new URL(a.url).origin)
    await a.stop()
    expect((await client.status()).sites).toBeDefined() // from b
    expect(client.url.origin).toBe(new URL(b.url).origin)
    await b.stop()
    await expect(client.status()).rejects.toMatchObject({ code: 'PEERSTAGE_TRACKER_UNREACHABLE' })
  })

  it('a DP and a client announce to the second when the first goes; with none answering the client gives up its WAN lease', async () => {
    const a = await startTracker()
    const b = await startTracker()
    const dir = tempDir()
    const swarmKey = newSwarmKey(dir)
    sampleTree(join(dir, 'src'))
    const signed = await packSample(join(dir, 'src'))
    const urls = [a.url, b.url]
    const dp = await started(createDp({ dataDir: join(dir, 'dp'), swarmKey, ...on('127.0.10.1'), tracker: { url: urls, token: 'dp' }, publish: [{ signed, source: join(dir, 'src') }] }))
    await dp.start()
    // Slow, so it still holds its lease when the trackers go.
    const client = await started(createFetcher({ dataDir: join(dir, 'client'), swarmKey, ...on('127.0.1.1'), tracker: { url: urls }, downloadLimitBytesPerSec: 20_000 }))
    const warnings: Error[] = []
    client.announcer!.on('warning', (err) => warnings.push(err))
    await client.node.want(signed, join(dir, 'out'))
    await client.start()
    expect(a.nodes()).toBe(2)
    expect(b.nodes()).toBe(0)

    await a.stop()
    await until(() => b.nodes() === 2, 'both nodes on the second tracker')

    await until(() => client.limits.leaseRateBytesPerSec > 0, 'the client to hold a WAN lease')
    await b.stop()
    await until(() => warnings.length > 0, 'an announce finding no tracker')
    expect(client.limits.leaseRateBytesPerSec).toBe(0)
    expect(warnings[0]).toMatchObject({ code: 'PEERSTAGE_TRACKER_UNREACHABLE' })
  }, 60_000)
})
