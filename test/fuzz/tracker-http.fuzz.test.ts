import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTrackerConfig, createTrackerServer, LevelTrackerStore, SIGNATURE_HEADER, Tracker, TrackerErrorCodes, type AnnounceRequest, type AnnounceSigner } from '../../tracker/index.ts'
import { announceOf, CONFIG, nodeIdentity, PKG, signedPackage } from '../tracker/helpers.ts'
import { anyJson, countOutcome, fuzz, fuzzTimeoutMs, mutatedMany, nastyString, fileTempDir } from './fuzz.ts'

const TOKENS = { adminToken: 'admin-s3cret', dpToken: 'dp-s3cret', clientToken: 'client-s3cret', viewerToken: 'viewer-s3cret' }
const CODES = new Set<string>(Object.values(TrackerErrorCodes))

const dir = fileTempDir()
let tracker: Tracker
let app: ReturnType<typeof createTrackerServer>
let manifest: string
let packageId: string
const identities: AnnounceSigner[] = []
/** Deployment ids the fuzzer made, to show, cancel and ask the status of. */
const deploymentIds: string[] = []
/** Signature times rise per announce, as a node's do. */
let lastAt = 0

beforeAll(async () => {
  const pkg = await signedPackage(dir)
  manifest = pkg.canonical
  packageId = pkg.packageId
  const config = createTrackerConfig({ ...CONFIG, ...TOKENS, trust: [pkg.keys.publicKeyPath], rateLimit: { perAddressPerSecond: 0 } })
  tracker = await Tracker.start(config, { store: await LevelTrackerStore.open(join(dir, 'tracker')) })
  // Long-polls end at once: the fuzzer asks for waits, the server caps them.
  app = createTrackerServer(tracker, { maxBudgetWaitSeconds: 0.02 })
  await app.ready()
  for (let i = 0; i < 4; i++) identities.push(nodeIdentity())
}, 60_000)

afterAll(async () => {
  await app?.close()
  await tracker?.stop()
})

interface Req { method: string, url: string, headers: Record<string, string>, payload?: string, sign?: { who: number, at: number | 'now' | string } }

const auth = fc.oneof(
  fc.constantFrom(...Object.values(TOKENS).map((t) => `Bearer ${t}`), 'Bearer ', 'bearer admin-s3cret', 'Basic YTpi', 'Bearer admin-s3cret ', `Bearer ${'x'.repeat(10_000)}`),
  nastyString(32).map((t) => `Bearer ${t}`),
)
/** Mostly the right headers (so requests get past the token check), sometimes another token or content type. */
const headers = fc.oneof(
  { weight: 4, arbitrary: fc.constant({}) },
  fc.record({ authorization: auth, 'content-type': fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '') }, { requiredKeys: [] }),
)
const iso = (hours: number): string => new Date(Date.now() + hours * 3_600_000).toISOString()
/** encodeURIComponent, but a lone surrogate goes in as the bytes it would be (the fuzzer makes them; a URL cannot say them). */
const enc = (s: string): string => {
  try {
    return encodeURIComponent(s)
  } catch {
    return s.replace(/[\ud800-\udfff]/g, '%ED%A0%80')
  }
}
const query = (q: Record<string, unknown>): string => Object.entries(q).map(([k, v]) => `${enc(k)}=${enc(String(v))}`).join('&')
const queryValue = fc.oneof(fc.nat({ max: 100 }), fc.constantFrom(-1, 1.5, 1e21, 'x', '', '0x10', '9'.repeat(30)), nastyString(16))

/** A JSON body: a valid one mutated (deep checks), any JSON (first checks), or not JSON at all. */
function body(valid: unknown): fc.Arbitrary<string> {
  return fc.oneof({ weight: 4, arbitrary: mutatedMany(valid, 3).map((v) => JSON.stringify(v) ?? '') }, anyJson.map((v) => JSON.stringify(v)), fc.string({ maxLength: 100 }), fc.constantFrom('', '{', '{"a":1}{', '[]', 'null', '"x"', '{"__proto__":{"admin":true}}', `{"x":${'['.repeat(3000)}${']'.repeat(3000)}}`))
}

function requests(): fc.Arbitrary<Req> {
  const client = fc.nat({ max: identities.length - 1 })
  const announce = fc.record({
    who: client,
    role: fc.constantFrom('client', 'dp'),
    at: fc.oneof({ weight: 6, arbitrary: fc.constant('now' as const) }, fc.constantFrom(0, 9_999_999_999_999_999, 8_640_000_000_000_001, Date.now() - 600_000, Date.now() + 600_000), nastyString(20)),
    extra: fc.record({ deployments: fc.constant([{ id: 'd-0000abcd', state: 'downloading', progress: 0.5, bytes: { lan: 1, wan: 2, reused: 3 }, verifyFailures: 0, updatedAt: iso(0) }]), event: fc.constant('stopped') }, { requiredKeys: [] }),
  }).chain(({ who, role, at, extra }) => {
    const id = identities[who]!.peerId
    const valid = { ...announceOf(id, role, 3, 10, extra as Partial<AnnounceRequest>), packages: [{ id: PKG, have: 3, pieces: 10, bytes: { lan: 1, wan: 2, reused: 0 }, uploaded: { '127.0.1.0/24': 5 } }, { id: packageId, have: 1, pieces: 2 }] }
    // The valid body itself often: then the signature and its time are what is under test.
    return fc.tuple(fc.oneof(fc.constant(JSON.stringify(valid)), body(valid)), headers).map(([payload, h]): Req => ({ method: 'POST', url: '/v1/announce', headers: { authorization: `Bearer ${role === 'dp' ? TOKENS.dpToken : TOKENS.clientToken}`, 'content-type': 'application/json', ...h }, payload, sign: { who, at } }))
  })
  const deployment = { manifest, program: 'install', targets: ['site:leeds', 'subnet:127.0.3.7/24', `client:${identities[0]!.peerId}`], availableAt: iso(1), mandatoryAt: iso(2), expiresAt: iso(48), jitterSeconds: 60, timeoutSeconds: 3600 }
  const throttle = { site: 'leeds', timezone: 'Europe/London', default: '10MiB/s', windows: ['Mon-Fri 08:00-18:00 2Mbit/s', { days: 'Sat', from: '22:00', to: '06:00', rate: 0 }], maxWanClients: 2 }
  const admin = { authorization: `Bearer ${TOKENS.adminToken}`, 'content-type': 'application/json' }
  const withBody = (method: string, url: string, valid: unknown): fc.Arbitrary<Req> => fc.tuple(body(valid), headers).map(([payload, h]) => ({ method, url, headers: { ...admin, ...h }, payload }))
  const get = (url: fc.Arbitrary<string>): fc.Arbitrary<Req> => fc.tuple(url, headers, fc.constantFrom('GET', 'DELETE', 'HEAD')).map(([u, h, method]) => ({ method, url: u, headers: { ...admin, ...h } }))
  const scope = fc.record({ site: fc.oneof(fc.constantFrom('leeds', 'york', 'dc', 'mars'), nastyString(70)), subnet: fc.oneof(fc.constantFrom('127.0.1.0/24', '127.0.1.9/24', '10.9.9.0/24', '1.2.3.4/33', '::1/128'), nastyString(20)), link: fc.constantFrom('leeds', 'x'), week: fc.constantFrom('2026-03-23', '9999-12-31', '0000-01-01', '2026-02-30', 'x'), limit: queryValue, extra: queryValue }, { requiredKeys: [] })
  const id = fc.oneof(fc.nat().map((i) => deploymentIds[i % Math.max(1, deploymentIds.length)] ?? 'd-00000000'), fc.constantFrom(packageId, PKG, identities[0]!.peerId, 'd-zzzzzzzz', '..%2F..%2Fetc', '%00', 'x'.repeat(200)), nastyString(20).map(enc))
  return fc.oneof(
    { weight: 4, arbitrary: announce },
    { weight: 2, arbitrary: withBody('POST', '/v1/deployments', deployment) },
    withBody('POST', '/v1/packages', { manifest }),
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom('PUT', 'POST', 'PATCH'), body(throttle), headers).map(([method, payload, h]): Req => ({ method, url: '/v1/throttle', headers: { ...admin, ...h }, payload })) },
    get(fc.tuple(fc.constantFrom('/v1/throttle', '/v1/timeline', '/v1/nodes', '/v1/status', '/v1/packages', '/v1/packages/status', '/v1/deployments', '/v1/history', '/metrics', '/v1/health', '/', '/dashboard/app.js'), scope).map(([path, q]) => `${path}?${query(q)}`)),
    get(fc.tuple(fc.constantFrom('/v1/deployments/', '/v1/packages/', '/v1/manifests/', '/v1/nodes/', '/dashboard/'), id, fc.constantFrom('', '/status', '/x')).map(([path, i, tail]) => path + i + tail)),
    get(fc.record({ peer: fc.oneof(fc.constantFrom(...identities.map((s) => s.peerId)), nastyString(20)), after: queryValue, waitSeconds: queryValue }, { requiredKeys: [] }).map((q) => `/v1/changes?${query(q)}`)),
    get(fc.record({ after: queryValue, waitSeconds: queryValue }, { requiredKeys: [] }).map((q) => `/v1/budgets?${query(q)}`)),
    fc.tuple(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'), fc.webPath(), headers, fc.option(fc.string({ maxLength: 64 }))).map(([method, path, h, payload]): Req => ({ method, url: path === '' ? '/' : path, headers: h, ...(payload !== null && { payload }) })),
  )
}

async function sign(req: Req): Promise<void> {
  if (req.sign === undefined || req.payload === undefined) return
  const signer = identities[req.sign.who]!
  const at = req.sign.at === 'now' ? (lastAt = Math.max(lastAt + 1, Date.now())) : req.sign.at
  const signature = await signer.sign(Buffer.from(`peerstage-announce/1\n${at}\n${req.payload}`, 'utf8'))
  req.headers[SIGNATURE_HEADER] = `${at}.${Buffer.from(signature).toString('base64url')}`
}

describe('fuzz: the tracker HTTP API (fastify inject, level store)', () => {
  it('every route, body, query and auth header: an answer, or a 4xx with a PEERSTAGE_TRACKER_* code; never a 5xx', async () => {
    const from = fc.constantFrom('127.0.1.5', '127.0.2.9', '127.0.3.5', '127.0.10.2', '10.200.0.1', '::1', '::ffff:127.0.1.6')
    await fuzz('tracker.http', fc.tuple(requests(), from), async ([req, remoteAddress]) => {
      await sign(req)
      const res = await app.inject({ method: req.method as 'GET', url: req.url, headers: req.headers, remoteAddress, ...(req.payload !== undefined && req.method !== 'GET' && req.method !== 'HEAD' && { payload: req.payload }) })
      const what = `${req.method} ${req.url} → ${res.statusCode} ${res.body.slice(0, 300)}`
      expect(res.statusCode, what).toBeLessThan(500)
      countOutcome(String(res.statusCode))
      if (res.statusCode >= 400 && req.method !== 'HEAD') {
        const code = (res.json() as { error?: { code?: string } }).error?.code
        expect(CODES.has(code ?? ''), what).toBe(true)
      }
      if (req.method === 'POST' && req.url === '/v1/deployments' && res.statusCode === 201) deploymentIds.push((res.json() as { id: string }).id)
    }, 300)
    // Still serving: a new node's valid announce passes after all that (the fuzzer's nodes may be bound to another subnet by now).
    identities.push(nodeIdentity())
    const who = identities.length - 1
    const req: Req = { method: 'POST', url: '/v1/announce', headers: { authorization: `Bearer ${TOKENS.clientToken}`, 'content-type': 'application/json' }, payload: JSON.stringify(announceOf(identities[who]!.peerId, 'client', 0)), sign: { who, at: 'now' } }
    await sign(req)
    expect((await app.inject({ method: 'POST', url: req.url, headers: req.headers, payload: req.payload, remoteAddress: '127.0.1.5' })).statusCode).toBe(200)
  }, fuzzTimeoutMs())
})
