import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTrackerConfig, createTrackerServer, MAX_ANNOUNCE_BODY_BYTES, MemoryTrackerStore, Tracker } from '../../tracker/index.ts'
import { announceOf, CONFIG, peerId, PKG, serveTracker, SigningTrackerClient, startServedTracker } from './helpers.ts'

let tracker: Tracker
let app: ReturnType<typeof createTrackerServer>
let url: string
const clients: SigningTrackerClient[] = []

beforeAll(async () => {
  tracker = await Tracker.start(createTrackerConfig(CONFIG), { store: new MemoryTrackerStore() })
  ;({ app, url } = await serveTracker(tracker, { maxBudgetWaitSeconds: 10 }))
})

afterAll(async () => {
  for (const c of clients) c.close()
  await app.close()
  await tracker.stop()
})

/** A client whose requests leave from `ip` (host H of subnet S: 127.0.S.H). */
function from(ip: string, token?: string): SigningTrackerClient {
  const c = new SigningTrackerClient({ url, localAddress: ip, ...(token !== undefined && { token }) })
  clients.push(c)
  return c
}

function raw(method: string, path: string, body: string | undefined, headers: Record<string, string> = {}): Promise<{ status: number, json: any }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method, localAddress: '127.0.1.99', headers: { ...(body !== undefined && { 'content-type': 'application/json' }), ...headers } }, (res) => {
      let text = ''
      res.on('data', (d: Buffer) => { text += d.toString() })
      res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(text) }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** What a bad request must leave untouched. */
function snapshot(): string {
  const s = tracker.status() as Record<string, unknown>
  return JSON.stringify({ ...s, time: undefined, n: tracker.registrations })
}

describe('tracker HTTP API', () => {
  it('derives the subnet from the connection\'s source address', async () => {
    expect(await from('127.0.1.5').announce(announceOf(peerId(), 'client', 0))).toMatchObject({ subnet: '127.0.1.0/24', site: 'leeds' })
    expect(await from('127.0.2.5').announce(announceOf(peerId(), 'client', 0))).toMatchObject({ subnet: '127.0.2.0/24', site: 'leeds' })
    expect(await from('127.0.3.5').announce(announceOf(peerId(), 'client', 0))).toMatchObject({ subnet: '127.0.3.0/24', site: 'york' })
    expect(await from('127.0.9.5').announce(announceOf(peerId(), 'client', 0))).toMatchObject({ subnet: '127.0.9.0/24', site: null })
  })

  it('does not take a node\'s word for its subnet', async () => {
    const before = snapshot()
    const r = await raw('POST', '/v1/announce', JSON.stringify({ ...announceOf(peerId(), 'client', 0), subnet: '127.0.3.0/24' }))
    expect(r.status).toBe(400)
    expect(r.json.error.code).toBe('PEERSTAGE_TRACKER_BAD_REQUEST')
    expect(snapshot()).toBe(before)
  })

  const bad: Array<[string, string, string, string | undefined, Record<string, string>, number, RegExp]> = [
    ['malformed JSON', 'POST', '/v1/announce', '{"peerId":', {}, 400, /JSON/i],
    ['a missing field', 'POST', '/v1/announce', JSON.stringify({ peerId: 'Abc', role: 'client', packages: [] }), {}, 400, /addresses/],
    ['a bad package id', 'POST', '/v1/announce', JSON.stringify(announceOf('Abc', 'client', 0, 10, {}, 'xyz')), {}, 400, /id/],
    ['have over pieces', 'POST', '/v1/announce', JSON.stringify(announceOf('Abc', 'client', 11, 10)), {}, 400, /have \(11\) is more than pieces \(10\)/],
    ['an unknown role', 'POST', '/v1/announce', JSON.stringify({ ...announceOf('Abc', 'client', 0), role: 'king' }), {}, 400, /role/],
    ['a peer id with bad letters', 'POST', '/v1/announce', JSON.stringify(announceOf('0OIl/..', 'client', 0)), {}, 400, /peerId/],
    ['an oversize body', 'POST', '/v1/announce', JSON.stringify({ ...announceOf('Abc', 'client', 0), pad: 'x'.repeat(MAX_ANNOUNCE_BODY_BYTES) }), {}, 413, /too large/i],
    ['a DP announce without its token', 'POST', '/v1/announce', JSON.stringify(announceOf('Abc', 'dp', 10)), {}, 401, /needs 'Authorization: Bearer TOKEN'/],
    ['a DP announce with a wrong token', 'POST', '/v1/announce', JSON.stringify(announceOf('Abc', 'dp', 10)), { authorization: 'Bearer nope' }, 401, /wrong token/],
    ['budgets without the DP token', 'GET', '/v1/budgets', undefined, {}, 401, /Bearer/],
    ['throttle without the admin token', 'PUT', '/v1/throttle', JSON.stringify({ site: 'leeds', default: '0' }), {}, 401, /admin API/],
    ['throttle with the DP token', 'PUT', '/v1/throttle', JSON.stringify({ site: 'leeds', default: '0' }), { authorization: 'Bearer dp-s3cret' }, 401, /wrong token/],
    ['throttle of an unknown site', 'PUT', '/v1/throttle', JSON.stringify({ site: 'mars', default: '0' }), { authorization: 'Bearer admin-s3cret' }, 404, /no site 'mars'.*known: dc, leeds, york/],
    ['throttle of an unknown subnet', 'GET', '/v1/throttle?subnet=10.9.9.0/24', undefined, { authorization: 'Bearer admin-s3cret' }, 404, /no subnet '10.9.9.0\/24'/],
    ['throttle with both site and subnet', 'PUT', '/v1/throttle', JSON.stringify({ site: 'leeds', subnet: '127.0.1.0/24', default: '0' }), { authorization: 'Bearer admin-s3cret' }, 400, /exactly one of site or subnet/],
    ['throttle with a bad window', 'PUT', '/v1/throttle', JSON.stringify({ site: 'leeds', windows: ['Mon-Fri 08:00-18:00 2Mbps/s/s'] }), { authorization: 'Bearer admin-s3cret' }, 400, /window 1 of the site leeds/],
    ['throttle with a bad rate', 'PUT', '/v1/throttle', JSON.stringify({ subnet: '127.0.1.0/24', default: 'fast' }), { authorization: 'Bearer admin-s3cret' }, 400, /'fast' is not a rate/],
    ['throttle with a bad time zone', 'PUT', '/v1/throttle', JSON.stringify({ site: 'leeds', timezone: 'Mars/Olympus' }), { authorization: 'Bearer admin-s3cret' }, 400, /Mars\/Olympus/],
    ['throttle with nothing to set', 'PUT', '/v1/throttle', JSON.stringify({ site: 'leeds' }), { authorization: 'Bearer admin-s3cret' }, 400, /nothing to set/],
    ['throttle with an unknown field', 'PUT', '/v1/throttle', JSON.stringify({ site: 'leeds', rate: '1Mbit/s' }), { authorization: 'Bearer admin-s3cret' }, 400, /additional properties/],
    ['an unknown route', 'GET', '/v2/nothing', undefined, {}, 404, /no route GET \/v2\/nothing/],
    // Found by the fuzzer: the router's own refusals came back in fastify's shape, without a PEERSTAGE code.
    ['a path part over 100 characters', 'GET', `/v1/deployments/${'x'.repeat(101)}`, undefined, {}, 414, /exceeding the max param length/],
    ['a broken %-escape in the path', 'GET', '/v1/deployments/%E0%A4%A', undefined, {}, 400, /not a valid url component/],
  ]
  for (const [name, method, path, body, headers, status, message] of bad) {
    it(`answers ${name} with ${status} and a clear message, changing nothing`, async () => {
      const before = snapshot()
      const r = await raw(method, path, body, headers)
      expect(r.status).toBe(status)
      expect(r.json.error.code).toMatch(/^PEERSTAGE_TRACKER_/)
      expect(r.json.error.message).toMatch(message)
      expect(snapshot()).toBe(before)
    })
  }

  it('sets, shows and clears a throttle; a DP long-polling budgets wakes with the change', async () => {
    const dp = from('127.0.10.1', 'dp-s3cret')
    const admin = from('127.0.10.200', 'admin-s3cret')
    const first = await dp.announce(announceOf(peerId(), 'dp', 10))
    const version = first.budgets!.version
    const poll = dp.budgets(version, 10)
    // A window, not a default: the site's windows (Sat-Sun unlimited) beat a subnet's default.
    const set = await admin.setThrottle({ subnet: '127.0.2.0/24' }, { windows: ['Mon-Sun 00:00-24:00 0'] })
    expect(set).toMatchObject({ subnet: '127.0.2.0/24', override: { windows: ['Mon-Sun 00:00-24:00 0'] }, effective: { windows: ['Mon-Sun 00:00-24:00 0'] }, budgetNow: { rateBytesPerSec: 0, decidedBy: 'subnet' } })
    const woke = await poll
    expect(woke.version).toBeGreaterThan(version)
    expect(woke.subnets.find((s) => s.subnet === '127.0.2.0/24')!.rateBytesPerSec).toBe(0)
    expect((await admin.showThrottle({ subnet: '127.0.2.0/24' })).override).toEqual({ windows: ['Mon-Sun 00:00-24:00 0'] })
    const cleared = await admin.clearThrottle({ subnet: '127.0.2.0/24' })
    expect(cleared).toMatchObject({ cleared: true, override: null })
  })

  it('counts reported bytes per subnet and package and serves metrics', async () => {
    const c = from('127.0.3.9')
    const id = peerId()
    await c.announce({ ...announceOf(id, 'client', 1), packages: [{ id: PKG, have: 1, pieces: 10, bytes: { wan: 1000, lan: 50 } }] })
    await c.announce({ ...announceOf(id, 'client', 2), packages: [{ id: PKG, have: 2, pieces: 10, bytes: { wan: 3000, lan: 50, reused: 7 } }] })
    const york = (await c.status()).sites.find((s: any) => s.name === 'york').subnets[0]
    expect(york.packages).toEqual([{ packageId: PKG, name: null, version: null, lanBytes: 50, wanBytes: 3000, reusedBytes: 7, dpUploadBytes: 0 }])
    const metrics = await new Promise<string>((resolve) => request(`${url}/metrics`, (res) => {
      let t = ''
      res.on('data', (d: Buffer) => { t += d.toString() })
      res.on('end', () => resolve(t))
    }).end())
    expect(metrics).toContain('peerstage_tracker_reported_bytes_total{subnet="127.0.3.0/24",source="wan"} 3000')
    expect(metrics).toMatch(/peerstage_tracker_announces_total\{role="client"\} \d+/)
    expect(metrics).toContain('peerstage_tracker_subnet_budget_bytes_per_second{subnet="127.0.3.0/24"} 10485760')
    expect(metrics).toMatch(/peerstage_tracker_leases_active\{subnet="127.0.3.0\/24"\} [12]\n/)
  })

  it('reports an unreachable tracker in one sentence', async () => {
    const c = new SigningTrackerClient({ url: 'http://127.0.10.10:1' })
    await expect(c.status()).rejects.toMatchObject({ code: 'PEERSTAGE_TRACKER_UNREACHABLE', message: 'cannot reach the tracker at http://127.0.10.10:1: ECONNREFUSED' })
    c.close()
  })
})

describe('closing the server', () => {
  it('answers the long-polls in flight instead of waiting them out (a DP and a client each hold one)', async () => {
    const { url, stop } = await startServedTracker(CONFIG)
    const dp = new SigningTrackerClient({ url, token: 'dp-s3cret', localAddress: '127.0.10.3' })
    const client = new SigningTrackerClient({ url, localAddress: '127.0.1.3' })
    const { version } = await dp.budgets()
    const id = peerId()
    await client.announce(announceOf(id, 'client', 0))
    const polls = Promise.all([dp.budgets(version, 60), client.changes(id, 0, 60)])
    await new Promise((r) => setTimeout(r, 200)) // both waiting
    await stop()
    const [budgets, changes] = await polls
    expect(budgets.version).toBe(version)
    expect(changes).toEqual({ version: 0, changed: false })
    dp.close()
    client.close()
  }, 15_000) // without the answers, close waits out the polls' 25 s and this fails
})
