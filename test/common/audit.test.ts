import { Writable } from 'node:stream'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { createAuditLog } from '../../common/index.ts'
import { createTrackerConfig, createTrackerServer, MemoryTrackerStore, Tracker } from '../../tracker/index.ts'
import { announceOf, CONFIG, peerId } from '../tracker/helpers.ts'
import { until } from '../helpers/until.ts'

/** A logger whose lines land in an array, parsed. */
function capture() {
  const lines: Array<Record<string, unknown>> = []
  const logger = pino({ level: 'info' }, new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done() } }))
  return { lines, logger }
}

const stops: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop()
})

describe('audit lines', () => {
  it('logs at most N a minute per kind and address, then one line with how many were left out', () => {
    const { lines, logger } = capture()
    let now = 0
    const audit = createAuditLog(logger, { maxPerMinute: 3, nowMs: () => now })
    for (let i = 0; i < 50; i++) audit('token-refused', { addr: '10.0.0.1', route: '/v1/status' })
    audit('token-refused', { addr: '10.0.0.2', route: '/v1/status' }) // another address: its own allowance
    audit('bad-request', { addr: '10.0.0.1', route: '/v1/announce' }) // another kind: its own allowance
    expect(lines.map((l) => [l.audit, l.addr])).toEqual([
      ...Array.from({ length: 3 }, () => ['token-refused', '10.0.0.1']), ['token-refused', '10.0.0.2'], ['bad-request', '10.0.0.1'],
    ])
    expect(lines[0]).toMatchObject({ audit: 'token-refused', addr: '10.0.0.1', route: '/v1/status', msg: 'audit' })
    now += 60_000
    audit('token-refused', { addr: '10.0.0.1', route: '/v1/status' })
    expect(lines.slice(5).map((l) => [l.audit, l.addr, l.suppressed])).toEqual([['token-refused', '10.0.0.1', 47], ['token-refused', '10.0.0.1', undefined]])
  })

  it('says what it left out when the window ends even if no other line comes (a timer)', async () => {
    const { lines, logger } = capture()
    const audit = createAuditLog(logger, { maxPerMinute: 1, windowMs: 100 })
    for (let i = 0; i < 5; i++) audit('bad-request', { addr: '10.0.0.9', route: '/v1/announce' })
    expect(lines.length).toBe(1)
    await until(() => lines.length === 2, 'the summary line', 5000)
    expect(lines[1]).toMatchObject({ audit: 'bad-request', addr: '10.0.0.9', suppressed: 4 })
  })

  it('follows a bounded number of addresses: past it, new ones are counted under addr "*"', () => {
    const { lines, logger } = capture()
    let now = 0
    const audit = createAuditLog(logger, { maxPerMinute: 1, maxKeys: 2, nowMs: () => now })
    for (let i = 1; i <= 100; i++) audit('wire-violation', { addr: `10.0.1.${i}` })
    expect(lines.length).toBe(2)
    now += 60_000
    audit('wire-violation', { addr: '10.0.1.1' })
    expect(lines.find((l) => l.addr === '*')).toMatchObject({ audit: 'wire-violation', suppressed: 98 })
  })

  it('the tracker logs refused tokens, bad signatures and bad requests with address and route, never the token', async () => {
    const { lines, logger } = capture()
    const tracker = await Tracker.start(createTrackerConfig({ ...CONFIG, clientToken: 'client-s3cret' }), { store: new MemoryTrackerStore() })
    const app = createTrackerServer(tracker, { logger })
    stops.push(async () => { await app.close(); await tracker.stop() })
    const wrong = await app.inject({ method: 'GET', url: '/v1/throttle?site=york', remoteAddress: '127.0.3.4', headers: { authorization: 'Bearer guessed-admin-token' } })
    expect(wrong.statusCode).toBe(401)
    const bad = await app.inject({ method: 'PUT', url: '/v1/throttle', remoteAddress: '127.0.3.5', headers: { authorization: 'Bearer admin-s3cret' }, payload: { site: 'york', windows: 7 } })
    expect(bad.statusCode).toBe(400)
    const id = peerId()
    const unsigned = await app.inject({ method: 'POST', url: '/v1/announce', remoteAddress: '127.0.3.6', headers: { authorization: 'Bearer client-s3cret' }, payload: announceOf(id, 'client', 0) })
    expect(unsigned.statusCode).toBe(401)
    const audits = lines.filter((l) => l.audit !== undefined)
    expect(audits).toEqual([
      expect.objectContaining({ audit: 'token-refused', addr: '127.0.3.4', route: 'GET /v1/throttle', code: 'PEERSTAGE_TRACKER_UNAUTHORIZED' }),
      expect.objectContaining({ audit: 'bad-request', addr: '127.0.3.5', route: 'PUT /v1/throttle' }),
      expect.objectContaining({ audit: 'signature-refused', addr: '127.0.3.6', route: 'POST /v1/announce', code: 'PEERSTAGE_TRACKER_BAD_SIGNATURE', peer: id }),
    ])
    const text = JSON.stringify(lines)
    for (const secret of ['guessed-admin-token', 'admin-s3cret', 'client-s3cret']) expect(text).not.toContain(secret)
  })
})
