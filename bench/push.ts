/**
 * How soon after `deploy create` do a thousand clients report `downloading`, whatever their
 * announce interval (600 s here)? Real tracker processes (the bundled CLI): one replica on a
 * level store, then two replicas on one Redis with the deployment created on the first and
 * half the clients on the second. The clients are simulated in this process, each as the
 * real one behaves (node/tracker/announcer.ts, node/client): its own Ed25519 identity and
 * source address, registered by a signed announce, holding the long-poll
 * `GET /v1/changes`; woken, it announces after a random delay in [0, 1 s) (the jitter
 * that spreads a site), gets the deployment in the answer, and announces at once with its
 * `downloading` report. Measured per client: create → woken, create → report answered.
 */
import { sign } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generatePublisherKeys, loadPrivateKey, pack } from '../chunker/index.ts'
import { TrackerClient, type AnnounceRequest, type AnnounceSigner } from '../tracker/index.ts'
import { BIN, type BenchOutcome, type BenchRow } from './common.ts'
import { nodeKey } from './node-key.ts'
import { startProcess, type PeerProcess } from './processes.ts'
import { REDIS_MISSING, startBenchRedis } from './redis.ts'

const CLIENTS = Number(process.env.PEERSTAGE_BENCH_PUSH_CLIENTS ?? 1000)
const SUBNETS = 4
const JITTER_MS = 1000
const WAIT_SECONDS = 25
const GIVE_UP_MS = 30_000
const GOAL_P99_MS = 2000

interface SimClient {
  ip: string
  signer: AnnounceSigner
  tracker: TrackerClient
}

function identity(): AnnounceSigner {
  const { privateKey, peerId } = nodeKey()
  return { peerId, sign: (data) => sign(null, data, privateKey) }
}

const announceOf = (c: SimClient, deployments: AnnounceRequest['deployments'] = []): AnnounceRequest =>
  ({ peerId: c.signer.peerId, role: 'client', addresses: [`/ip4/${c.ip}/tcp/4001/p2p/${c.signer.peerId}`], packages: [], deployments })

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? Number.NaN

interface Outcome { woken: number[], reported: number[], missing: number }

/** Registers every client on its tracker, holds their long-polls, creates the deployment on `admin`, and times what follows. */
async function measure(urls: string[], manifest: string): Promise<Outcome> {
  const clients: SimClient[] = Array.from({ length: CLIENTS }, (_, i) => {
    const ip = `127.0.${1 + (i % SUBNETS)}.${1 + Math.floor(i / SUBNETS)}`
    return { ip, signer: identity(), tracker: new TrackerClient({ url: urls[i % urls.length]!, localAddress: ip, timeoutMs: (WAIT_SECONDS + 10) * 1000 }) }
  })
  const admin = new TrackerClient({ url: urls[0]!, token: 'admin' })
  try {
    for (let i = 0; i < clients.length; i += 50) await Promise.all(clients.slice(i, i + 50).map((c) => c.tracker.announce(announceOf(c), c.signer)))
    let createdAt = 0
    const woken: number[] = []
    const reported: number[] = []
    const stop = new AbortController()
    const one = async (c: SimClient): Promise<void> => {
      let after = (await c.tracker.changes(c.signer.peerId, 0, 0)).version
      while (!stop.signal.aborted) {
        const r = await c.tracker.changes(c.signer.peerId, after, WAIT_SECONDS, stop.signal)
        after = r.version
        if (!r.changed || createdAt === 0) continue
        woken.push(performance.now() - createdAt)
        await new Promise((resolve) => setTimeout(resolve, Math.random() * JITTER_MS))
        const answer = await c.tracker.announce(announceOf(c), c.signer)
        const d = answer.deployments[0]
        if (d === undefined) continue
        await c.tracker.announce(announceOf(c, [{ id: d.id, state: 'downloading', progress: 0, bytes: { lan: 0, wan: 0, reused: 0 }, verifyFailures: 0, updatedAt: new Date().toISOString() }]), c.signer)
        reported.push(performance.now() - createdAt)
        return
      }
    }
    const all = Promise.all(clients.map((c) => one(c).catch((err: Error) => console.error(`  client ${c.ip}: ${err.message}`))))
    await new Promise((resolve) => setTimeout(resolve, 1000)) // every long-poll in place
    const now = Date.now()
    createdAt = performance.now()
    await admin.createDeployment({ manifest, program: 'install', targets: ['site:branch'], availableAt: new Date(now).toISOString(), mandatoryAt: new Date(now + 3600_000).toISOString() })
    const giveUp = setTimeout(() => stop.abort(), GIVE_UP_MS)
    await all
    clearTimeout(giveUp)
    stop.abort()
    return { woken: woken.sort((a, b) => a - b), reported: reported.sort((a, b) => a - b), missing: CLIENTS - reported.length }
  } finally {
    for (const c of clients) c.tracker.close()
    admin.close()
  }
}

function configYaml(store: string | undefined): string {
  return `${store === undefined ? '' : `store: ${store}\n`}adminToken: admin
dpToken: dp
announceIntervalSeconds: 600
trust: [keys/publisher.pub]
sites:
  - name: branch
    subnets: [${Array.from({ length: SUBNETS }, (_, s) => `127.0.${s + 1}.0/24`).join(', ')}]
`
}

async function trackers(dir: string, store: string | undefined, ips: string[], procs: PeerProcess[]): Promise<string[]> {
  return Promise.all(ips.map(async (ip) => {
    const p = startProcess([process.execPath, BIN, 'tracker', '--config', join(dir, 'tracker.yaml'), '--listen', `${ip}:0`, ...(store === undefined ? ['--data', join(dir, `data-${ip}`)] : []), '--json'], { name: `tracker ${ip}` })
    procs.push(p)
    return (JSON.parse(await p.line()) as { url: string }).url
  }))
}

export async function run(): Promise<BenchOutcome> {
  const dir = mkdtempSync(join(tmpdir(), 'peerstage-bench-push-'))
  const procs: PeerProcess[] = []
  const rows: BenchRow[] = []
  const data: Record<string, unknown> = { clients: CLIENTS, jitterMs: JITTER_MS }
  try {
    const keys = generatePublisherKeys(join(dir, 'keys'))
    mkdirSync(join(dir, 'src'))
    writeFileSync(join(dir, 'src', 'setup.cmd'), '@echo off\r\n')
    const manifest = (await pack(join(dir, 'src'), { name: 'win11', version: '1', privateKey: loadPrivateKey(keys.privateKeyPath), programs: [{ name: 'install', command: 'setup.cmd', args: [] }] })).canonical
    const row = (setup: string, o: Outcome): void => {
      const p99 = percentile(o.reported, 0.99)
      data[setup] = o
      rows.push({ bench: 'push', metric: `${setup}: create → woken p50 / p99, ${CLIENTS} clients`, value: `${percentile(o.woken, 0.5).toFixed(0)} / ${percentile(o.woken, 0.99).toFixed(0)} ms`, reference: 'announce interval 600 s', ratio: null, goal: '', pass: null })
      rows.push({ bench: 'push', metric: `${setup}: create → downloading report p50 / p99`, value: `${percentile(o.reported, 0.5).toFixed(0)} / ${p99.toFixed(0)} ms`, reference: `jitter [0, ${JITTER_MS}) ms`, ratio: p99 / GOAL_P99_MS, goal: `p99 <= ${GOAL_P99_MS} ms, all ${CLIENTS}`, pass: p99 <= GOAL_P99_MS && o.missing === 0 })
    }

    writeFileSync(join(dir, 'tracker.yaml'), configYaml(undefined))
    console.error(`  one tracker (level store), ${CLIENTS} clients`)
    const single = await trackers(dir, undefined, ['127.0.10.10'], procs)
    row('1 replica, level', await measure(single, manifest))
    await Promise.all(procs.splice(0).map((p) => p.stop()))

    const redis = await startBenchRedis()
    if (redis === undefined) console.error(`  ${REDIS_MISSING}`)
    else {
      procs.push(redis.proc)
      writeFileSync(join(dir, 'tracker.yaml'), configYaml(redis.url))
      console.error(`  two replicas on Redis, created on the first, ${CLIENTS / 2} clients on each`)
      row('2 replicas, Redis', await measure(await trackers(dir, redis.url, ['127.0.10.10', '127.0.10.11'], procs), manifest))
      await Promise.all(procs.splice(0).filter((p) => p !== redis.proc).map((p) => p.stop()))
      await redis.stop()
    }
    return { rows, data }
  } finally {
    await Promise.all(procs.map((p) => p.stop()))
    rmSync(dir, { recursive: true, force: true })
  }
}
