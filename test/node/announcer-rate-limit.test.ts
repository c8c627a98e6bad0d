import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Announcer, ByteCounter, WanLimits } from '../../node/tracker/index.ts'
import { createTrackerConfig, createTrackerServer, MemoryTrackerStore, Tracker, TrackerClient } from '../../tracker/index.ts'
import { FakeClock } from '../helpers/fake-clock.ts'
import { newSwarmKey, startNode } from '../helpers/nodes.ts'
import { tempDir } from '../helpers/tmp.ts'
import { until } from '../helpers/until.ts'

const stops: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop()
})

describe('an announcer the tracker rate-limits', () => {
  it('waits the Retry-After the 429 named (not its shorter retryMs) before it announces again', async () => {
    // One announce per 20 s per address: the second gets 429 with Retry-After: 20.
    const tracker = await Tracker.start(createTrackerConfig({
      adminToken: 'admin', dpToken: 'dp', announceIntervalSeconds: 600,
      sites: [{ name: 'leeds', subnets: ['127.0.1.0/24'] }],
      rateLimit: { perAddressPerSecond: 0.05, burst: 1 },
    }), { store: new MemoryTrackerStore() })
    const app = createTrackerServer(tracker)
    const answered: number[] = []
    app.addHook('onResponse', async (req, reply) => { if (req.url === '/v1/announce') answered.push(reply.statusCode) })
    await app.listen({ host: '127.0.10.10', port: 0 })
    stops.push(async () => { await app.close(); await tracker.stop() })
    const url = `http://127.0.10.10:${(app.server.address() as { port: number }).port}`

    const dir = tempDir()
    const node = await startNode(join(dir, 'client'), newSwarmKey(dir), '127.0.1.7')
    const clock = new FakeClock()
    const limits = new WanLimits({ role: 'client' })
    const announcer = new Announcer({
      tracker: new TrackerClient({ url, localAddress: '127.0.1.7' }), role: 'client', node, limits, bytes: new ByteCounter(limits), retryMs: 100, clock,
    })
    const warnings: string[] = []
    announcer.on('warning', (err) => warnings.push((err as Error & { code?: string }).code ?? err.message))
    stops.push(() => announcer.stop())

    await announcer.start()
    announcer.announceNow()
    await until(() => answered.length === 2 && warnings.length === 1, 'the refused announce')
    expect(answered).toEqual([200, 429])
    expect(warnings).toEqual(['PEERSTAGE_TRACKER_RATE_LIMITED'])
    // retryMs (100 ms) would have asked 190 times by now: it waits the tracker's 20 s.
    await clock.advance(19_000)
    await new Promise((r) => setTimeout(r, 300))
    expect(answered).toEqual([200, 429])
    await clock.advance(1000)
    await until(() => answered.length === 3, 'the announce after Retry-After')
  })
})
