import { Writable } from 'node:stream'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { createTrackerServer } from '../../tracker/index.ts'
import { CONFIG, trackerAt } from './helpers.ts'

const closers: Array<() => Promise<unknown>> = []
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()))
})

/** An in-process tracker server whose log lines (every level) land in `lines`. */
async function server(config: Record<string, unknown>, lines: string[] = []) {
  const { tracker } = await trackerAt(Date.now(), undefined, config)
  const logger = pino({ level: 'trace' }, new Writable({ write(chunk, _enc, done) { lines.push(chunk.toString()); done() } }))
  const app = createTrackerServer(tracker, { logger })
  closers.push(async () => { await app.close(); await tracker.stop() })
  await app.ready()
  return app
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
const THROTTLE = '/v1/throttle?site=leeds'

describe('the viewer role', () => {
  it('reads status, deployments, packages, throttle and metrics, and changes nothing', async () => {
    const app = await server({ ...CONFIG, viewerToken: 'v1ewer' })
    for (const url of ['/v1/status', '/v1/deployments', '/v1/packages', '/v1/packages/status', '/metrics', THROTTLE, '/v1/nodes']) {
      expect((await app.inject({ url, headers: bearer('v1ewer') })).statusCode, url).toBe(200)
      expect((await app.inject({ url, headers: bearer(CONFIG.adminToken) })).statusCode, url).toBe(200)
      expect((await app.inject({ url })).statusCode, url).toBe(401)
    }
    const change = await app.inject({ method: 'PUT', url: '/v1/throttle', headers: bearer('v1ewer'), payload: { site: 'leeds', default: '1Mbit/s' } })
    expect(change.statusCode).toBe(401)
    expect(change.json()).toMatchObject({ error: { code: 'PEERSTAGE_TRACKER_UNAUTHORIZED', message: 'wrong token for the admin API' } })
    for (const [method, url] of [['DELETE', THROTTLE], ['DELETE', '/v1/deployments/d-00000000'], ['DELETE', '/v1/packages/x'], ['DELETE', '/v1/nodes/x']] as const) {
      expect((await app.inject({ method, url, headers: bearer('v1ewer') })).statusCode, `${method} ${url}`).toBe(401)
    }
  })

  it('takes dashboardToken as its old name; throttle show stays the admin\'s when no viewer is set', async () => {
    const old = await server({ ...CONFIG, dashboardToken: 'dash' })
    expect((await old.inject({ url: '/v1/status', headers: bearer('dash') })).statusCode).toBe(200)
    expect((await old.inject({ url: THROTTLE, headers: bearer('dash') })).statusCode).toBe(200)
    const none = await server(CONFIG)
    expect((await none.inject({ url: '/v1/status' })).statusCode).toBe(200) // reads stay open without a viewer token, as before
    expect((await none.inject({ url: THROTTLE })).statusCode).toBe(401)
    expect((await none.inject({ url: THROTTLE, headers: bearer(CONFIG.adminToken) })).statusCode).toBe(200)
  })

  it('logs no token, right or wrong, and names none in its answers', async () => {
    const lines: string[] = []
    const app = await server({ ...CONFIG, viewerToken: 'v1ewer' }, lines)
    const wrong = 'wr0ng-t0ken-of-some-length'
    const answers = [
      await app.inject({ url: '/v1/status', headers: bearer(wrong) }),
      await app.inject({ method: 'PUT', url: '/v1/throttle', headers: bearer(wrong), payload: { site: 'leeds', default: '1Mbit/s' } }),
      await app.inject({ url: '/v1/budgets', headers: bearer(wrong) }),
      await app.inject({ url: `/v1/status?token=${wrong}`, headers: bearer('v1ewer') }),
    ]
    expect(answers.map((a) => a.statusCode)).toEqual([401, 401, 401, 200])
    for (const a of answers.slice(0, 3)) expect(a.body).not.toContain(wrong)
    for (const secret of [wrong, 'v1ewer', CONFIG.adminToken]) expect(lines.join('\n')).not.toContain(secret)
  })
})
