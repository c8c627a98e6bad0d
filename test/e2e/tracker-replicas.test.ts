import { chmodSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { cliPack, peerstage, startDaemon } from '../helpers/cli.ts'
import { writeTree } from '../helpers/packages.ts'
import { redisMissing, startRedis, type RunningRedis } from '../helpers/redis.ts'
import { pseudoRandomBytes, tempDir } from '../helpers/tmp.ts'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((stop) => stop()))
})

const WIM_BYTES = 8 * 1024 * 1024
const MAX_WAN_CLIENTS = 2
const INSTALL_SH = '#!/bin/sh\necho "$PEERSTAGE_DEPLOYMENT $(pwd)" >> "$PEERSTAGE_TEST_MARKER"\n'

/** Leases held in Redis right now, whichever replica granted them: the truth the replicas share. */
async function leasesInRedis(redis: RunningRedis): Promise<number> {
  const now = Date.now()
  const leases = await redis.command(['HGETALL', 'peerstage:lease'])
  let n = 0
  for (let i = 1; i < leases.length; i += 2) if ((JSON.parse(leases[i]!) as { expiresAt: number }).expiresAt > now) n++
  return n
}

async function deployStatus(url: string, id: string): Promise<any> {
  const shown = await peerstage(['deploy', 'show', id, '--tracker', url, '--json'])
  expect(shown.code, shown.stderr).toBe(0)
  return JSON.parse(shown.stdout)
}

describe.skipIf(redisMissing)('two tracker replicas on one Redis (real processes)', () => {
  it('share leases, push a deployment made on one to the clients of the other, and lose nothing when a replica is killed or Redis restarts', async () => {
    const dir = tempDir()
    const redis = await startRedis()
    cleanups.push(redis.stop)
    const src = join(dir, 'src')
    writeTree(src, { 'install.wim': pseudoRandomBytes(WIM_BYTES, 17), 'install.sh': INSTALL_SH })
    chmodSync(join(src, 'install.sh'), 0o755)
    const marker = join(dir, 'marker.txt')
    process.env.PEERSTAGE_TEST_MARKER = marker
    const manifest = await cliPack(dir, src, { program: 'install=./install.sh' })
    expect((await peerstage(['swarm-key', '--out', join(dir, 'swarm.key')])).code).toBe(0)

    // A long interval: only the push channel can bring the deployment in time.
    writeFileSync(join(dir, 'tracker.yaml'), `store: ${redis.url}
adminToken: s3cret
dpToken: dp-s3cret
announceIntervalSeconds: 60
registrationSeconds: 180
leaseSeconds: 3
trust: [keys/publisher.pub]
sites:
  - name: dc
    subnets: [127.0.10.0/24]
  - name: leeds
    subnets: [127.0.1.0/24]
    wan: { default: 2MiB/s, maxWanClients: ${MAX_WAN_CLIENTS} }
`)
    const replicas = ['127.0.10.10', '127.0.10.11'].map((ip) => startDaemon(['tracker', '--config', join(dir, 'tracker.yaml'), '--listen', `${ip}:0`, '--json']))
    for (const r of replicas) cleanups.push(r.stop)
    const [a, b] = await Promise.all(replicas.map(async (r) => (await r.ready).url as string)) as [string, string]

    const dp = startDaemon(['dp', '--data', join(dir, 'dp'), '--swarm-key', join(dir, 'swarm.key'), '--listen', '/ip4/127.0.10.1/tcp/0', '--dial-from', '127.0.10.1',
      '--publish', manifest, '--source', src, '--tracker', a, '--tracker', b, '--dp-token', 'dp-s3cret', '--json'])
    cleanups.push(dp.stop)
    await dp.ready
    // Four clients of one subnet: two ask replica A first, two replica B.
    const clients = [1, 2, 3, 4].map((h) => {
      const ip = `127.0.1.${h}`
      const trackers = h <= 2 ? [a, b] : [b, a]
      const c = startDaemon(['client', ...trackers.flatMap((t) => ['--tracker', t]), '--data', join(dir, `client-${h}`), '--swarm-key', join(dir, 'swarm.key'),
        '--trust', join(dir, 'keys/publisher.pub'), '--listen', `/ip4/${ip}/tcp/0`, '--dial-from', ip, '--json'])
      cleanups.push(c.stop)
      return c
    })
    for (const c of clients) expect((await c.ready).subnet).toBe('127.0.1.0/24')

    const created = await peerstage(['deploy', 'create', '--tracker', a, '--token', 's3cret', '--manifest', manifest, '--program', 'install',
      '--target', 'site:leeds', '--available', new Date().toISOString(), '--mandatory', new Date(Date.now() + 8_000).toISOString(), '--json'])
    expect(created.code, created.stderr).toBe(0)
    const { id } = JSON.parse(created.stdout)

    // Within seconds every client reports on it, those of replica B too (announce interval 60 s).
    const createdAt = Date.now()
    const reporting = (s: any): number => Object.values(s.status.counts as Record<string, number>).reduce((n, c) => n + c, 0)
    let status: any
    for (let i = 0; i < 40; i++) {
      status = await deployStatus(b, id)
      if (reporting(status) === clients.length) break
      await new Promise((r) => setTimeout(r, 250))
    }
    expect(reporting(status)).toBe(clients.length)
    console.log(`all ${clients.length} clients reported on the deployment ${Date.now() - createdAt} ms after deploy create (announce interval 60 s)`)

    // While they download: never more than maxWanClients leases, whichever replica granted them.
    let most = 0
    let killedB = false
    let restartedRedis = false
    for (let i = 0; i < 600; i++) {
      most = Math.max(most, await leasesInRedis(redis))
      status = await deployStatus(a, id).catch(() => status)
      const counts = status.status.counts
      const staged = (counts.verified ?? 0) + (counts.running ?? 0) + (counts.succeeded ?? 0)
      if (!killedB && (counts.downloading ?? 0) > 0) {
        await replicas[1]!.kill() // its clients fail over to A
        killedB = true
      } else if (killedB && !restartedRedis && staged >= 1) {
        await redis.restart()
        restartedRedis = true
      }
      if ((counts.succeeded ?? 0) + (counts.failed ?? 0) === clients.length) break
      await new Promise((r) => setTimeout(r, 200))
    }
    expect(killedB && restartedRedis).toBe(true)
    expect(most).toBe(MAX_WAN_CLIENTS)
    expect(status.status.counts).toEqual({ succeeded: clients.length })

    // Each client ran it once; the deployment survived the Redis restart on the replica left.
    const runs = readFileSync(marker, 'utf8').trim().split('\n')
    expect(runs).toHaveLength(clients.length)
    expect(new Set(runs.map((line) => line.split(' ')[1])).size).toBe(clients.length)
    const { deployments } = JSON.parse((await peerstage(['deploy', 'list', '--tracker', a, '--json'])).stdout)
    expect(deployments.map((d: { id: string }) => d.id)).toEqual([id])
  }, 240_000)

  it('answers the same status on every replica', async () => {
    const dir = tempDir()
    const redis = await startRedis()
    cleanups.push(redis.stop)
    writeFileSync(join(dir, 'tracker.yaml'), `store: ${redis.url}\nadminToken: s3cret\ndpToken: dp-s3cret\nsites:\n  - name: leeds\n    subnets: [127.0.1.0/24]\n`)
    const replicas = ['127.0.10.10', '127.0.10.11'].map((ip) => startDaemon(['tracker', '--config', join(dir, 'tracker.yaml'), '--listen', `${ip}:0`, '--json']))
    for (const r of replicas) cleanups.push(r.stop)
    const [a, b] = await Promise.all(replicas.map(async (r) => (await r.ready).url as string)) as [string, string]
    const set = await peerstage(['throttle', 'set', '--tracker', a, '--token', 's3cret', '--site', 'leeds', '--default', '3MiB/s', '--max-wan-clients', '4', '--json'])
    expect(set.code, set.stderr).toBe(0)
    let shown: any
    for (let i = 0; i < 20; i++) {
      shown = JSON.parse((await peerstage(['throttle', 'show', '--tracker', b, '--token', 's3cret', '--site', 'leeds', '--json'])).stdout)
      if (shown.effective.maxWanClients === 4) break
      await new Promise((r) => setTimeout(r, 100))
    }
    expect(shown.effective.maxWanClients).toBe(4)
    expect(shown.budgetNow.rateBytesPerSec).toBe(3 * 1024 * 1024)
    const statusOf = async (url: string): Promise<unknown> => JSON.parse((await peerstage(['status', '--tracker', url, '--json'])).stdout)
    const { time: _at, ...onB } = await statusOf(b) as Record<string, unknown>
    const { time: _too, ...onA } = await statusOf(a) as Record<string, unknown>
    expect(onB).toEqual(onA)
  }, 60_000)
})
