import { createPublicKey } from 'node:crypto'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { loadPrivateKey, publisherOf } from '../../chunker/index.ts'
import { createClient, createDp } from '../../node/index.ts'
import { TrackerClient } from '../../tracker/index.ts'
import { newSwarmKey, on, started } from '../helpers/nodes.ts'
import { tempDir } from '../helpers/tmp.ts'
import { until } from '../helpers/until.ts'
import { signedPackage, startServedTracker } from '../tracker/helpers.ts'

const stops: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop()
})

describe('changes pushed to the nodes', () => {
  it('a deployment reaches its clients at once, not at their next announce (the interval is 10 minutes)', async () => {
    const dir = tempDir()
    const pkg = await signedPackage(dir)
    const { url, stop } = await startServedTracker({
      adminToken: 'admin', dpToken: 'dp', announceIntervalSeconds: 600, trust: [pkg.keys.publicKeyPath],
      sites: [{ name: 'dc', subnets: ['127.0.10.0/24'] }, { name: 'leeds', subnets: ['127.0.1.0/24'] }, { name: 'york', subnets: ['127.0.3.0/24'] }],
    })
    stops.push(stop)
    const swarmKey = newSwarmKey(dir)
    const dp = await started(createDp({ dataDir: join(dir, 'dp'), swarmKey, ...on('127.0.10.1'), tracker: { url, token: 'dp' }, publish: [{ signed: pkg, source: join(dir, 'src-24H2') }] }))
    await dp.start()
    const trusted = [publisherOf(createPublicKey(loadPrivateKey(pkg.keys.privateKeyPath)))]
    const clients = await Promise.all(['127.0.1.1', '127.0.1.2', '127.0.3.1'].map(async (ip) => {
      const c = await started(createClient({ dataDir: join(dir, ip), swarmKey, ...on(ip), tracker: { url }, trusted }))
      await c.start()
      return c
    }))

    const admin = new TrackerClient({ url, token: 'admin' })
    stops.push(async () => admin.close())
    const now = Date.now()
    const d = await admin.createDeployment({ manifest: pkg.canonical, program: 'install', targets: ['site:leeds'], availableAt: new Date(now).toISOString(), mandatoryAt: new Date(now + 3600_000).toISOString() })
    const [leeds1, leeds2, york] = clients.map((c) => c.deployments)
    // Within the test's time, far inside the 600 s interval: only the push can have brought it.
    await until(() => leeds1!.get(d.id)?.state === 'verified' && leeds2!.get(d.id)?.state === 'verified', 'both leeds clients to pre-stage the deployment', 30_000)
    expect(york!.get(d.id)).toBeUndefined() // not a target: told nothing

    await admin.cancelDeployment(d.id)
    await until(() => leeds1!.get(d.id)?.state === 'cancelled', 'the cancellation to reach leeds', 30_000)
  }, 90_000)
})
