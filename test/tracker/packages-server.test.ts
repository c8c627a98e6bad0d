import { mkdtempSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { totalBytes } from '../../chunker/index.ts'
import { createTrackerConfig, MemoryTrackerStore, Tracker, type AnnounceRequest, type ReplicaReport } from '../../tracker/index.ts'
import { peerId, PKG2, serveTracker, SigningTrackerClient, signedPackage } from './helpers.ts'

let pkg: Awaited<ReturnType<typeof signedPackage>>
let stranger: Awaited<ReturnType<typeof signedPackage>>
let dir: string

beforeAll(async () => {
  // Not tempDir(): that one goes after the first test, and these keys serve them all.
  dir = mkdtempSync(join(tmpdir(), 'peerstage-packages-api-'))
  pkg = await signedPackage(dir)
  stranger = await signedPackage(join(dir, 'stranger'))
})

afterAll(() => rmSync(dir, { recursive: true, force: true }))

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** hub → region (win11@*) → branch, shop (everything, never a DP); dc2 on its own, replicating nothing. */
async function world() {
  const store = new MemoryTrackerStore()
  const tracker = await Tracker.start(createTrackerConfig({
    adminToken: 'admin-s3cret',
    dpToken: 'dp-s3cret',
    trust: [pkg.keys.publicKeyPath],
    sites: [
      { name: 'hub', subnets: ['127.0.10.0/24'] },
      { name: 'region', subnets: ['127.0.1.0/24'], parent: 'hub', link: { default: '5MiB/s' }, replicate: ['win11@*'] },
      { name: 'branch', subnets: ['127.0.2.0/24'], parent: 'region' },
      { name: 'shop', subnets: ['127.0.3.0/24'], parent: 'region' },
      { name: 'dc2', subnets: ['127.0.4.0/24'], replicate: ['nothing@*'] },
    ],
  }), { store })
  const { app, url } = await serveTracker(tracker)
  const clients: SigningTrackerClient[] = []
  const from = (ip: string, token?: string): SigningTrackerClient => {
    const c = new SigningTrackerClient({ url, localAddress: ip, ...(token !== undefined && { token }) })
    clients.push(c)
    return c
  }
  cleanups.push(async () => {
    for (const c of clients) c.close()
    await app.close()
    await tracker.stop()
  })
  const raw = (method: string, path: string, body?: unknown, token?: string): Promise<{ status: number, json: any }> => new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body)
    const req = request(`${url}${path}`, { method, localAddress: '127.0.10.99', headers: { ...(text !== undefined && { 'content-type': 'application/json' }), ...(token !== undefined && { authorization: `Bearer ${token}` }) } }, (res) => {
      let out = ''
      res.on('data', (d: Buffer) => { out += d.toString() })
      res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(out) }))
    })
    req.on('error', reject)
    req.end(text)
  })
  /** A DP's announce from `ip`, each package with its replica report. */
  const dpAnnounce = (ip: string, id: string, packages: AnnounceRequest['packages'] = []) => from(ip, 'dp-s3cret').announce({ peerId: id, role: 'dp', addresses: [], packages })
  return { tracker, store, url, from, raw, dpAnnounce, admin: from('127.0.10.200', 'admin-s3cret') }
}

const future = (hours: number): string => new Date(Date.now() + hours * 3600_000).toISOString()
const replica = (state: ReplicaReport['state'], extra: Partial<ReplicaReport> = {}): ReplicaReport => ({ state, presentBytes: 100, totalBytes: 1000, origin: 'replicated', ...extra })

describe('the package catalogue over HTTP', () => {
  it('adds (201, then 200 with the same entry), lists, serves the manifest to DPs, removes', async () => {
    const w = await world()
    const added = await w.raw('POST', '/v1/packages', { manifest: pkg.canonical }, 'admin-s3cret')
    expect(added.status).toBe(201)
    expect(added.json).toEqual({ id: pkg.packageId, name: 'win11', version: '24H2', publisher: pkg.keys.publisher, bytes: totalBytes(pkg.manifest), addedAt: expect.any(String) })
    const again = await w.raw('POST', '/v1/packages', { manifest: pkg.canonical }, 'admin-s3cret')
    expect([again.status, again.json]).toEqual([200, added.json])
    expect(await w.from('127.0.1.5').listPackages()).toEqual([added.json])
    expect(await w.from('127.0.1.5', 'dp-s3cret').manifest(pkg.packageId)).toBe(pkg.canonical)
    expect(await w.admin.removePackage(pkg.packageId)).toEqual(added.json)
    expect(await w.admin.listPackages()).toEqual([])
    // Nothing else named it: its manifest went with it.
    await expect(w.from('127.0.1.5', 'dp-s3cret').manifest(pkg.packageId)).rejects.toMatchObject({ code: 'PEERSTAGE_TRACKER_NOT_FOUND' })
    expect(await w.store.list('package')).toEqual([])
    expect(await w.store.list('manifest')).toEqual([])
  })

  it('deploy create lists its package; removing it is refused (409) while the deployment is live, and the manifest stays for the deployment', async () => {
    const w = await world()
    const d = await w.admin.createDeployment({ manifest: pkg.canonical, program: 'install', targets: ['site:branch'], availableAt: future(0), mandatoryAt: future(1) })
    expect((await w.admin.listPackages()).map((p) => p.id)).toEqual([pkg.packageId])
    const refused = await w.raw('DELETE', `/v1/packages/${pkg.packageId}`, undefined, 'admin-s3cret')
    expect(refused.status).toBe(409)
    expect(refused.json.error).toEqual({ code: 'PEERSTAGE_TRACKER_PACKAGE_IN_USE', message: `package win11@24H2 (${pkg.packageId}) is named by deployment ${d.id}, neither cancelled nor expired: cancel it first (peerstage deploy cancel ID)` })
    await expect(w.admin.removePackage(pkg.packageId)).rejects.toMatchObject({ code: 'PEERSTAGE_TRACKER_PACKAGE_IN_USE' })
    await w.admin.cancelDeployment(d.id)
    await w.admin.removePackage(pkg.packageId)
    expect(await w.admin.listPackages()).toEqual([])
    expect(await w.admin.manifest(pkg.packageId)).toBe(pkg.canonical)
  })

  const bad: Array<[string, string, string, unknown, string | undefined, number, string, RegExp]> = [
    ['an add without a token', 'POST', '/v1/packages', { manifest: 'x' }, undefined, 401, 'UNAUTHORIZED', /admin API needs 'Authorization: Bearer TOKEN'/],
    ['an add with the DP token', 'POST', '/v1/packages', { manifest: 'x' }, 'dp-s3cret', 401, 'UNAUTHORIZED', /wrong token/],
    ['an add with an unknown field', 'POST', '/v1/packages', { manifest: 'x', name: 'win11' }, 'admin-s3cret', 400, 'BAD_REQUEST', /additional properties/],
    ['an add that is not a manifest', 'POST', '/v1/packages', { manifest: '{"a":1}' }, 'admin-s3cret', 400, 'BAD_REQUEST', /manifest/],
    ['a remove without a token', 'DELETE', `/v1/packages/${'c'.repeat(64)}`, undefined, undefined, 401, 'UNAUTHORIZED', /Bearer/],
    ['a remove of an unknown package', 'DELETE', `/v1/packages/${'c'.repeat(64)}`, undefined, 'admin-s3cret', 404, 'NOT_FOUND', /no package c{64} in the catalogue \(peerstage package list shows them\)/],
    ['a remove by a bad id', 'DELETE', '/v1/packages/win11@24H2', undefined, 'admin-s3cret', 400, 'BAD_REQUEST', /id/],
  ]
  for (const [name, method, path, body, token, status, code, message] of bad) {
    it(`answers ${name} with ${status}`, async () => {
      const w = await world()
      const r = await w.raw(method, path, body, token)
      expect(r.status).toBe(status)
      expect(r.json.error).toMatchObject({ code: `PEERSTAGE_TRACKER_${code}`, message: expect.stringMatching(message) })
      expect(w.tracker.listPackages()).toEqual([])
    })
  }

  it('refuses a package of an untrusted publisher with 400 and the code', async () => {
    const w = await world()
    const r = await w.raw('POST', '/v1/packages', { manifest: stranger.canonical }, 'admin-s3cret')
    expect([r.status, r.json.error.code]).toEqual([400, 'PEERSTAGE_TRACKER_UNTRUSTED_PACKAGE'])
    expect(r.json.error.message).toMatch(/which is not a trusted publisher/)
    expect(w.tracker.listPackages()).toEqual([])
  })
})

describe('replication over HTTP', () => {
  it('answers a DP with what to replicate, the links and the DPs; keeps its replica reports', async () => {
    const w = await world()
    await w.admin.addPackage(pkg.canonical)
    const hubDp = peerId('Hub')
    await w.dpAnnounce('127.0.10.1', hubDp, [{ id: pkg.packageId, have: 4, pieces: 4, replica: replica('seeding', { presentBytes: 1000, origin: 'published' }) }])
    const regionDp = peerId('Region')
    const answer = await w.dpAnnounce('127.0.1.1', regionDp, [{ id: pkg.packageId, have: 1, pieces: 4, replica: replica('replicating') }])
    expect(answer.replicate).toEqual([{ id: pkg.packageId, name: 'win11', version: '24H2' }])
    expect(answer.packages[0]!.peers.map((p) => [p.peerId, p.tier])).toEqual([[hubDp, 'parent-dp']])
    expect(answer.budgets!.links).toEqual([
      { site: 'region', parent: 'hub', rateBytesPerSec: 5 * 1024 * 1024 },
      { site: 'branch', parent: 'region', rateBytesPerSec: null },
      { site: 'shop', parent: 'region', rateBytesPerSec: null },
    ])
    expect(answer.budgets!.dps).toEqual([{ peerId: hubDp, site: 'hub' }, { peerId: regionDp, site: 'region' }])
    const polled = await w.from('127.0.1.1', 'dp-s3cret').budgets()
    expect(polled.dps).toHaveLength(2)
    expect(polled.links).toHaveLength(3)
    // A change of the replica report alone is saved.
    const saved = async (): Promise<unknown> => ((await w.store.list('registration')).find(([k]) => k === regionDp)![1] as any).packages[pkg.packageId].replica
    expect(await saved()).toEqual(replica('replicating'))
    await w.dpAnnounce('127.0.1.1', regionDp, [{ id: pkg.packageId, have: 1, pieces: 4, replica: replica('failed', { reason: 'disk full' }) }])
    expect(await saved()).toEqual(replica('failed', { reason: 'disk full' }))
  })

  const badReplicas: Array<[string, unknown, RegExp]> = [
    ['an unknown state', replica('seeding', { state: 'done' as never }), /state/],
    ['no origin', { state: 'seeding', presentBytes: 1, totalBytes: 1 }, /origin/],
    ['negative bytes', replica('seeding', { presentBytes: -1 }), /presentBytes/],
    ['a long reason', replica('failed', { reason: 'x'.repeat(513) }), /reason/],
    ['an unknown field', { ...replica('seeding'), extra: 1 }, /additional properties/],
  ]
  for (const [name, bad, message] of badReplicas) {
    it(`refuses a DP announce whose replica report has ${name}`, async () => {
      const w = await world()
      const r = await w.raw('POST', '/v1/announce', { peerId: peerId(), role: 'dp', addresses: [], packages: [{ id: PKG2, have: 0, pieces: 1, replica: bad }] }, 'dp-s3cret')
      expect(r.status).toBe(400)
      expect(r.json.error).toMatchObject({ code: 'PEERSTAGE_TRACKER_BAD_REQUEST', message: expect.stringMatching(message) })
      expect(w.tracker.registrations).toBe(0)
    })
  }

  it('shows every package per site that must hold it and per DP: its state, missing, or no DP; unlisted ones DPs report', async () => {
    const w = await world()
    await w.admin.addPackage(pkg.canonical)
    const bytes = totalBytes(pkg.manifest)
    const [hubDp, regionDp, branchDp, dc2Dp] = ['Hub', 'Region', 'Branch', 'Dctwo'].map((n) => peerId(n))
    await w.dpAnnounce('127.0.10.1', hubDp!, [{ id: pkg.packageId, have: 4, pieces: 4, replica: replica('seeding', { presentBytes: bytes, totalBytes: bytes, origin: 'published' }) }])
    await w.dpAnnounce('127.0.1.1', regionDp!, [{ id: pkg.packageId, have: 4, pieces: 4, replica: replica('seeding', { presentBytes: bytes, totalBytes: bytes, copiedAt: '2026-11-23T08:00:00.000Z' }) }])
    await w.dpAnnounce('127.0.2.1', branchDp!)
    await w.dpAnnounce('127.0.4.1', dc2Dp!, [{ id: PKG2, have: 0, pieces: 1, replica: replica('failed', { presentBytes: 0, totalBytes: 0, reason: 'manifest refused' }) }])
    const status = await w.from('127.0.9.9').packageStatus()
    const dp = (peer: string, subnet: string, extra: Record<string, unknown>) => ({ peerId: peer, subnet, copiedAt: null, reason: null, origin: 'replicated', presentBytes: 0, totalBytes: bytes, ...extra })
    expect(status.packages).toEqual([
      {
        id: pkg.packageId, name: 'win11', version: '24H2', bytes, listed: true,
        sites: [
          { site: 'hub', parent: null, required: true, dps: [dp(hubDp!, '127.0.10.0/24', { state: 'seeding', presentBytes: bytes, origin: 'published' })] },
          { site: 'region', parent: 'hub', required: true, dps: [dp(regionDp!, '127.0.1.0/24', { state: 'seeding', presentBytes: bytes, copiedAt: '2026-11-23T08:00:00.000Z' })] },
          { site: 'branch', parent: 'region', required: true, dps: [dp(branchDp!, '127.0.2.0/24', { state: 'missing', origin: null })] },
          { site: 'shop', parent: 'region', required: true, dps: [] },
        ],
      },
      {
        id: PKG2, name: '', version: '', bytes: 0, listed: false,
        sites: [{ site: 'dc2', parent: null, required: false, dps: [dp(dc2Dp!, '127.0.4.0/24', { state: 'failed', totalBytes: 0, reason: 'manifest refused' })] }],
      },
    ])
    const metrics = await (await fetch(`${w.url}/metrics`)).text()
    expect(metrics).toContain('peerstage_tracker_dp_packages{site="branch",state="missing"} 1')
    expect(metrics).toContain('peerstage_tracker_dp_packages{site="hub",state="seeding"} 1')
    expect(metrics).toContain('peerstage_tracker_dp_packages{site="dc2",state="failed"} 1')
  })
})
