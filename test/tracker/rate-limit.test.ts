import { Writable } from 'node:stream'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { createTrackerConfig, createTrackerServer, MemoryTrackerStore, Tracker } from '../../tracker/index.ts'
import { AddressRateLimiter } from '../../tracker/rate-limit.ts'
import { isTransient } from '../../common/index.ts'
import { FakeClock } from '../helpers/fake-clock.ts'
import { announceOf, CONFIG, peerId, serveTracker, SigningTrackerClient } from './helpers.ts'

const stops: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop()
})

/** A tracker of CONFIG with this rate limit on a fake clock, its server (not listening) and its log lines. */
async function limited(rateLimit: Record<string, number>) {
  const clock = new FakeClock()
  const start = Date.now()
  const tracker = await Tracker.start(createTrackerConfig({ ...CONFIG, rateLimit }), { store: new MemoryTrackerStore(), clock, now: () => new Date(start + clock.nowMs()) })
  const lines: Array<Record<string, unknown>> = []
  const logger = pino({ level: 'info' }, new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done() } }))
  const app = createTrackerServer(tracker, { logger })
  stops.push(async () => { await app.close(); await tracker.stop() })
  const status = (remoteAddress: string) => app.inject({ method: 'GET', url: '/v1/status', remoteAddress })
  return { tracker, clock, app, lines, status }
}

describe('the tracker rate limit per source address', () => {
  it('answers a burst past the limit with 429, Retry-After and a transient code; another address is unaffected', async () => {
    const { clock, status, app, lines } = await limited({ perAddressPerSecond: 2, burst: 5 })
    const burst = []
    for (let i = 0; i < 8; i++) burst.push((await status('127.0.1.5')).statusCode)
    expect(burst).toEqual([200, 200, 200, 200, 200, 429, 429, 429])
    const refused = await status('127.0.1.5')
    expect(refused.statusCode).toBe(429)
    expect(refused.headers['retry-after']).toBe('1')
    expect(refused.json().error.code).toBe('PEERSTAGE_TRACKER_RATE_LIMITED')
    expect(isTransient(refused.json().error.code)).toBe(true)
    // Another branch's address has its own bucket.
    expect((await status('127.0.2.5')).statusCode).toBe(200)
    // Liveness is never limited.
    expect((await app.inject({ method: 'GET', url: '/v1/health', remoteAddress: '127.0.1.5' })).statusCode).toBe(200)
    // Refilled at 2/s: after a second, two more pass.
    await clock.advance(1000)
    expect([(await status('127.0.1.5')).statusCode, (await status('127.0.1.5')).statusCode, (await status('127.0.1.5')).statusCode]).toEqual([200, 200, 429])
    // Each refusal is an audit line, and they are themselves capped (10 a minute per kind and address).
    const audits = lines.filter((l) => l.audit === 'rate-limited')
    expect(audits.length).toBe(5)
    expect(audits[0]).toMatchObject({ audit: 'rate-limited', addr: '127.0.1.5', route: '/v1/status' })
  })

  it('refuses a flood before its token is checked, and says how long to wait by the rate', async () => {
    const { app } = await limited({ perAddressPerSecond: 0.1, burst: 1 })
    const throttle = () => app.inject({ method: 'PUT', url: '/v1/throttle', remoteAddress: '127.0.1.9', headers: { authorization: 'Bearer wrong' }, payload: { site: 'york' } })
    expect((await throttle()).statusCode).toBe(401)
    const second = await throttle()
    expect(second.statusCode).toBe(429)
    expect(second.headers['retry-after']).toBe('10')
  })

  it('is off with perAddressPerSecond 0', async () => {
    const { status } = await limited({ perAddressPerSecond: 0 })
    const codes = new Set<number>()
    for (let i = 0; i < 50; i++) codes.add((await status('127.0.1.5')).statusCode)
    expect([...codes]).toEqual([200])
  })

  it('is configured by rateLimit: in the YAML, with generous defaults and errors that name the key', () => {
    expect(createTrackerConfig(CONFIG).rateLimit).toEqual({ perAddressPerSecond: 100, burst: 2000 })
    expect(createTrackerConfig({ ...CONFIG, rateLimit: { perAddressPerSecond: 0.5 } }).rateLimit).toEqual({ perAddressPerSecond: 0.5, burst: 2000 })
    expect(() => createTrackerConfig({ ...CONFIG, rateLimit: { perAddressPerSecond: -1 } })).toThrow(/^rateLimit\.perAddressPerSecond must be a number >= 0/)
    expect(() => createTrackerConfig({ ...CONFIG, rateLimit: { burst: 0 } })).toThrow(/^rateLimit\.burst must be a whole number >= 1/)
    expect(() => createTrackerConfig({ ...CONFIG, rateLimit: { perSecond: 5 } })).toThrow(/^rateLimit\.perSecond is not a known key/)
  })

  it('keeps a bounded map: idle addresses are forgotten, and past the cap the first seen', () => {
    let now = 0
    const limiter = new AddressRateLimiter({ perAddressPerSecond: 1, burst: 2 }, () => now, 3)
    for (const a of ['a', 'b', 'c']) limiter.take(a)
    limiter.take('a') // 'a' is empty now
    expect(limiter.take('a')).toBe(1)
    limiter.take('d') // past the cap: 'a', the first seen, goes
    expect(limiter.size).toBe(3)
    expect(limiter.take('a')).toBe(0) // forgotten, so a full bucket again (and 'b' made room)
    expect(limiter.size).toBe(3)
    now += 500
    limiter.take('e') // no sweep within a second of the last; 'e' makes room by forgetting 'c'
    expect(limiter.size).toBe(3)
    now += 500 // one token back each since they took one: full again, so forgotten at the next sweep
    limiter.take('f')
    expect(limiter.size).toBe(2) // 'e' (half a token short) and 'f'
  })

  it('the tracker client waits out a short Retry-After by itself, then asks once more', async () => {
    const tracker = await Tracker.start(createTrackerConfig({ ...CONFIG, rateLimit: { perAddressPerSecond: 1, burst: 1 } }), { store: new MemoryTrackerStore() })
    const app = createTrackerServer(tracker)
    const answered: number[] = []
    app.addHook('onResponse', async (req, reply) => { if (req.url === '/v1/status') answered.push(reply.statusCode) })
    await app.listen({ host: '127.0.10.10', port: 0 })
    const client = new SigningTrackerClient({ url: `http://127.0.10.10:${(app.server.address() as { port: number }).port}`, localAddress: '127.0.1.8' })
    stops.push(async () => { client.close(); await app.close(); await tracker.stop() })
    await client.status()
    const started = performance.now()
    await client.status()
    expect(performance.now() - started).toBeGreaterThanOrEqual(900) // Retry-After: 1
    expect(answered).toEqual([200, 429, 200])
  })

  it('a node is told how long to wait: the client error carries Retry-After', async () => {
    const tracker = await Tracker.start(createTrackerConfig({ ...CONFIG, rateLimit: { perAddressPerSecond: 0.05, burst: 1 } }), { store: new MemoryTrackerStore() })
    const { app, url } = await serveTracker(tracker)
    const client = new SigningTrackerClient({ url, localAddress: '127.0.1.7' })
    stops.push(async () => { client.close(); await app.close(); await tracker.stop() })
    const id = peerId()
    await client.announce(announceOf(id, 'client', 0))
    const err = await client.announce(announceOf(id, 'client', 0)).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'PEERSTAGE_TRACKER_RATE_LIMITED', details: { status: 429, retryAfterSeconds: 20 } })
  })
})
