import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { HashPool, pack } from '../../chunker/index.ts'
import { createClient, createDp, createNodeConfig } from '../../node/index.ts'
import { MAX_ANNOUNCE_PACKAGES } from '../../tracker/index.ts'
import { newSwarmKey, on, started } from '../helpers/nodes.ts'
import { testKey, writeTree } from '../helpers/packages.ts'
import { tempDir } from '../helpers/tmp.ts'
import { peerId, SigningTrackerClient, startServedTracker } from '../tracker/helpers.ts'

const stops: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop()
})

describe('createNodeConfig: one checked config per role', () => {
  const base = { dataDir: '/var/lib/peerstage', swarmKey: new Uint8Array(32) }

  it('fills the defaults', () => {
    expect(createNodeConfig(base)).toMatchObject({ listen: ['/ip4/127.0.0.1/tcp/0'], bulk: true, bulkPort: 0, retryMs: 5000, budgetWaitSeconds: 25 })
    expect(createNodeConfig({ ...base, listen: ['/ip4/0.0.0.0/tcp/7000'], bulk: false, retryMs: 200 })).toMatchObject({ listen: ['/ip4/0.0.0.0/tcp/7000'], bulk: false, retryMs: 200 })
  })

  it.each([
    [{ dataDir: '' }, "dataDir must name a directory"],
    [{ swarmKey: new Uint8Array(0) }, 'swarmKey must be the bytes of a swarm key file'],
    [{ listen: ['tcp/7000'] }, "listen takes multiaddrs like /ip4/0.0.0.0/tcp/7000, got 'tcp/7000'"],
    [{ dialFrom: 'leeds-17' }, "dialFrom must be an IP address, got 'leeds-17'"],
    [{ bulkPort: 70000 }, "bulkPort takes a TCP port (0-65535) or 'off', got '70000'"],
    [{ metricsListen: '9100' }, "metricsListen takes HOST:PORT, got '9100'"],
    [{ tracker: { url: 'tracker.example' } }, "tracker must be a URL like http://10.0.0.5:7070, got 'tracker.example'"],
    [{ retryMs: 0 }, "retryMs must be a number > 0, got '0'"],
    [{ uploadLimitBytesPerSec: -1 }, "uploadLimitBytesPerSec must be a number > 0, got '-1'"],
    [{ stopGraceMs: -5 }, "stopGraceMs must be a number >= 0, got '-5'"],
  ])('refuses %o naming the key and the rule', (bad, message) => {
    expect(() => createNodeConfig({ ...base, ...bad })).toThrow(new RangeError(message))
  })

  it('refuses a client without a tracker before it starts anything', async () => {
    const dir = tempDir()
    await expect(createClient({ dataDir: join(dir, 'c'), swarmKey: newSwarmKey(dir), trusted: [] })).rejects.toThrow(new RangeError('tracker must be given: a client learns its deployments from it'))
  })
})

describe('createDp: a DP holding many packages', () => {
  it(`announces 1,000 packages in one announce (the protocol takes ${MAX_ANNOUNCE_PACKAGES}) and the tracker hands it out for each`, async () => {
    const { url, stop } = await startServedTracker({ adminToken: 'admin', dpToken: 'dp', sites: [{ name: 'dc', subnets: ['127.0.10.0/24'] }] })
    stops.push(stop)
    const dir = tempDir()
    const key = testKey()
    const publish = []
    const pool = new HashPool()
    for (let i = 0; i < 1000; i++) {
      const source = join(dir, `src-${i}`)
      writeTree(source, { 'driver.inf': `[Version] driver ${i}\n` })
      publish.push({ signed: await pack(source, { name: `driver-${i}`, version: '1', privateKey: key, programs: [], pool }), source })
    }
    await pool.close()
    const dp = await started(createDp({ dataDir: join(dir, 'dp'), swarmKey: newSwarmKey(dir), ...on('127.0.10.1'), publish }, { tracker: new SigningTrackerClient({ url, token: 'dp', localAddress: '127.0.10.1' }) }))
    const answer = (await dp.start())!
    expect(answer.packages).toHaveLength(1000)

    // A client of the site asking for the last of them is handed the DP.
    const client = new SigningTrackerClient({ url, localAddress: '127.0.10.2' })
    stops.push(async () => client.close())
    const last = publish.at(-1)!.signed
    const handed = await client.announce({ peerId: peerId(), role: 'client', addresses: [], packages: [{ id: last.packageId, have: 0, pieces: last.manifest.pieces.length }] })
    expect(handed.packages[0]!.peers.map((p) => p.peerId)).toEqual([dp.node.peerId])
  }, 120_000)
})

describe('node/index.ts', () => {
  it('loads none of the tracker server (fastify): node/ imports only the tracker protocol', () => {
    const script = `import { createRequire } from 'node:module'
await import(${JSON.stringify(fileURLToPath(new URL('../../node/index.ts', import.meta.url)))})
const loaded = Object.keys(createRequire(import.meta.url).cache)
console.log(JSON.stringify({ all: loaded.length, server: loaded.filter((f) => /node_modules\\/(fastify|avvio|ajv)\\//.test(f)) }))`
    const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as { all: number, server: string[] }
    expect(out.all).toBeGreaterThan(0) // the recorder sees the CommonJS modules the node loads (level, prom-client, …)
    expect(out.server).toEqual([])
  })
})
