import { mkdtempSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTrackerConfig, createTrackerServer, MemoryTrackerStore, Tracker, type DeploymentInput } from '../../tracker/index.ts'
import { announceOf, peerId, serveTracker, SigningTrackerClient, signedPackage, trustingConfig } from './helpers.ts'

let tracker: Tracker
let app: ReturnType<typeof createTrackerServer>
let url: string
let pkg: Awaited<ReturnType<typeof signedPackage>>
let stranger: Awaited<ReturnType<typeof signedPackage>>
let dir: string
const clients: SigningTrackerClient[] = []
const future = (hours: number): string => new Date(Date.now() + hours * 3600_000).toISOString()

beforeAll(async () => {
  // Not tempDir(): that one goes after the first test, and these keys serve them all.
  dir = mkdtempSync(join(tmpdir(), 'peerstage-deploy-api-'))
  pkg = await signedPackage(dir)
  stranger = await signedPackage(join(dir, 'stranger'))
  tracker = await Tracker.start(createTrackerConfig(trustingConfig(pkg.keys.publicKeyPath, { clientToken: 'client-s3cret' })), { store: new MemoryTrackerStore() })
  ;({ app, url } = await serveTracker(tracker))
})

afterAll(async () => {
  for (const c of clients) c.close()
  await app.close()
  await tracker.stop()
  rmSync(dir, { recursive: true, force: true })
})

function from(ip: string, token?: string): SigningTrackerClient {
  const c = new SigningTrackerClient({ url, localAddress: ip, ...(token !== undefined && { token }) })
  clients.push(c)
  return c
}

function raw(method: string, path: string, body: string | undefined, headers: Record<string, string> = {}): Promise<{ status: number, type: string, text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method, localAddress: '127.0.1.99', headers: { ...(body !== undefined && { 'content-type': 'application/json' }), ...headers } }, (res) => {
      const parts: Buffer[] = []
      res.on('data', (d: Buffer) => parts.push(d))
      res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), text: Buffer.concat(parts).toString('utf8') }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

const input = (extra: Partial<DeploymentInput> = {}): DeploymentInput => ({ manifest: pkg.canonical, program: 'install', targets: ['site:leeds'], availableAt: future(0), mandatoryAt: future(1), ...extra })
const admin = (): SigningTrackerClient => from('127.0.10.200', 'admin-s3cret')

describe('deployments over HTTP', () => {
  it('creates (201), lists, shows, reports status and cancels; clients of the site get it in their answer', async () => {
    const created = await raw('POST', '/v1/deployments', JSON.stringify(input()), { authorization: 'Bearer admin-s3cret' })
    expect(created.status).toBe(201)
    const d = JSON.parse(created.text)
    expect(d).toMatchObject({ id: expect.stringMatching(/^d-[0-9a-f]{8}$/), packageId: pkg.packageId, name: 'win11', program: 'install', cancelledAt: null })
    const a = admin()
    expect((await a.listDeployments()).map((x) => x.id)).toContain(d.id)
    expect(await from('127.0.1.50').getDeployment(d.id)).toEqual(d)

    const client = from('127.0.1.7', 'client-s3cret')
    const id = peerId()
    const answer = await client.announce(announceOf(id, 'client', 0))
    expect(answer.deployments.find((x) => x.id === d.id)).toEqual({ id: d.id, packageId: pkg.packageId, name: 'win11', version: '24H2', program: 'install', availableAt: d.availableAt, mandatoryAt: d.mandatoryAt, expiresAt: null, jitterSeconds: 0 })
    await client.announce({ ...announceOf(id, 'client', 0), deployments: [{ id: d.id, state: 'failed', progress: 1, exitCode: null, reason: 'killed', logTail: 'x', bytes: { lan: 1, wan: 2, reused: 3 }, verifyFailures: 0, updatedAt: future(0) }] })
    const status = await a.deploymentStatus(d.id)
    expect(status.counts).toEqual({ failed: 1 })
    expect(status.sites[0]!.subnets[0]!.clients).toEqual([expect.objectContaining({ peerId: id, state: 'failed', exitCode: null, reason: 'killed' })])
    expect(((await a.status()).sites.find((s: any) => s.name === 'leeds').subnets[0].deployments)).toEqual([{ id: d.id, name: 'win11', version: '24H2', counts: { failed: 1 } }])

    const cancelled = await a.cancelDeployment(d.id)
    expect(cancelled.cancelledAt).not.toBeNull()
    expect((await client.announce(announceOf(id, 'client', 0))).deployments.map((x) => x.id)).not.toContain(d.id)
    expect((await client.announce({ ...announceOf(id, 'client', 0), event: 'stopped' })).deployments).toEqual([])
  })

  it('serves the manifest byte for byte as JSON, to clients, DPs and the admin, with their token', async () => {
    await admin().createDeployment(input())
    for (const token of ['client-s3cret', 'dp-s3cret', 'admin-s3cret']) expect(await from('127.0.1.8', token).manifest(pkg.packageId)).toBe(pkg.canonical)
    const r = await raw('GET', `/v1/manifests/${pkg.packageId}`, undefined, { authorization: 'Bearer client-s3cret' })
    expect([r.status, r.type, r.text]).toEqual([200, 'application/json; charset=utf-8', pkg.canonical])
    await expect(from('127.0.1.8').manifest(pkg.packageId)).rejects.toMatchObject({ code: 'PEERSTAGE_TRACKER_UNAUTHORIZED' })
    await expect(from('127.0.1.8', 'client-s3cret').manifest('c'.repeat(64))).rejects.toMatchObject({ code: 'PEERSTAGE_TRACKER_NOT_FOUND' })
  })

  it('takes a manifest body over the 1 MiB limit of other routes', async () => {
    const padded = pkg.canonical + ' '.repeat(2 * 1024 * 1024) // JSON allows trailing space; the id is of the canonical form
    const d = await admin().createDeployment(input({ manifest: padded }))
    expect(d.packageId).toBe(pkg.packageId)
  })

  const bad: Array<[string, string, string, string | undefined, Record<string, string>, number, string, RegExp]> = [
    ['create without a token', 'POST', '/v1/deployments', JSON.stringify({ manifest: 'x', program: 'p', targets: ['site:leeds'], availableAt: 'a', mandatoryAt: 'b' }), {}, 401, 'UNAUTHORIZED', /admin API needs 'Authorization: Bearer TOKEN'/],
    ['create with the DP token', 'POST', '/v1/deployments', JSON.stringify({ manifest: 'x', program: 'p', targets: ['site:leeds'], availableAt: 'a', mandatoryAt: 'b' }), { authorization: 'Bearer dp-s3cret' }, 401, 'UNAUTHORIZED', /wrong token/],
    ['cancel without a token', 'DELETE', '/v1/deployments/d-00000000', undefined, {}, 401, 'UNAUTHORIZED', /Bearer/],
    ['a create with an unknown field', 'POST', '/v1/deployments', JSON.stringify({ manifest: 'x', program: 'p', targets: ['site:leeds'], availableAt: 'a', mandatoryAt: 'b', when: 'now' }), { authorization: 'Bearer admin-s3cret' }, 400, 'BAD_REQUEST', /additional properties/],
    ['a create without targets', 'POST', '/v1/deployments', JSON.stringify({ manifest: 'x', program: 'p', targets: [], availableAt: 'a', mandatoryAt: 'b' }), { authorization: 'Bearer admin-s3cret' }, 400, 'BAD_REQUEST', /targets/],
    ['an unknown deployment', 'GET', '/v1/deployments/d-00000000/status', undefined, {}, 404, 'NOT_FOUND', /no deployment 'd-00000000'/],
    ['a bad package id', 'GET', '/v1/manifests/xyz', undefined, { authorization: 'Bearer client-s3cret' }, 400, 'BAD_REQUEST', /packageId/],
  ]
  for (const [name, method, path, body, headers, status, code, message] of bad) {
    it(`answers ${name} with ${status}`, async () => {
      const before = tracker.listDeployments().length
      const r = await raw(method, path, body, headers)
      expect(r.status).toBe(status)
      expect(JSON.parse(r.text).error).toMatchObject({ code: `PEERSTAGE_TRACKER_${code}`, message: expect.stringMatching(message) })
      expect(tracker.listDeployments()).toHaveLength(before)
    })
  }

  it('refuses an untrusted package with 400 and the code; an unknown site with 404', async () => {
    const untrusted = await raw('POST', '/v1/deployments', JSON.stringify(input({ manifest: stranger.canonical })), { authorization: 'Bearer admin-s3cret' })
    expect([untrusted.status, JSON.parse(untrusted.text).error.code]).toEqual([400, 'PEERSTAGE_TRACKER_UNTRUSTED_PACKAGE'])
    const mars = await raw('POST', '/v1/deployments', JSON.stringify(input({ targets: ['site:mars'] })), { authorization: 'Bearer admin-s3cret' })
    expect([mars.status, JSON.parse(mars.text).error.code]).toEqual([404, 'PEERSTAGE_TRACKER_NOT_FOUND'])
  })

  const report = { id: 'd-0000abcd', state: 'downloading', progress: 0.5, bytes: { lan: 0, wan: 0, reused: 0 }, verifyFailures: 0, updatedAt: '2026-11-23T08:00:00Z' }
  const badReports: Array<[string, unknown, RegExp]> = [
    ['an unknown state', [{ ...report, state: 'done' }], /state/],
    ['progress over 1', [{ ...report, progress: 1.5 }], /progress/],
    ['an unknown field', [{ ...report, extra: 1 }], /additional properties/],
    ['a bad id', [{ ...report, id: 'deploy-1' }], /id/],
    ['a missing field', [{ ...report, bytes: undefined }], /bytes/],
    ['a negative failure count', [{ ...report, verifyFailures: -1 }], /verifyFailures/],
    ['a fractional exit code', [{ ...report, exitCode: 1.5 }], /exitCode/],
    ['a long reason', [{ ...report, reason: 'x'.repeat(513) }], /reason/],
    ['a long log tail', [{ ...report, logTail: 'x'.repeat(4097) }], /logTail/],
    ['65 reports', Array.from({ length: 65 }, () => report), /deployments/],
  ]
  for (const [name, deployments, message] of badReports) {
    it(`refuses an announce whose deployment report has ${name}`, async () => {
      const r = await raw('POST', '/v1/announce', JSON.stringify({ ...announceOf(peerId(), 'client', 0), deployments }), { authorization: 'Bearer client-s3cret' })
      expect(r.status).toBe(400)
      expect(JSON.parse(r.text).error).toMatchObject({ code: 'PEERSTAGE_TRACKER_BAD_REQUEST', message: expect.stringMatching(message) })
    })
  }
})
