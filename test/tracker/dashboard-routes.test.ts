import { afterEach, describe, expect, it } from 'vitest'
import { createTrackerServer } from '../../tracker/index.ts'
import { CONFIG, trackerAt } from './helpers.ts'

const closers: Array<() => Promise<unknown>> = []
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()))
})

async function server(config: Record<string, unknown>) {
  const { tracker } = await trackerAt(Date.now(), undefined, config)
  const app = createTrackerServer(tracker)
  closers.push(async () => { await app.close(); await tracker.stop() })
  await app.ready()
  return app
}

describe('the dashboard\'s routes on the tracker', () => {
  it('serves the page and its files from the package, uPlot included, loading nothing from elsewhere', async () => {
    const app = await server(CONFIG)
    const page = await app.inject({ url: '/' })
    expect(page.statusCode).toBe(200)
    expect(page.headers['content-type']).toMatch(/^text\/html/)
    expect(page.headers['content-security-policy']).toMatch(/^default-src 'self'/)
    expect(page.body).toContain('<script type="module" src="/dashboard/app.js">')
    for (const src of [...page.body.matchAll(/(?:src|href)="([^"#]+)"/g)].map((m) => m[1]!)) {
      expect((await app.inject({ url: src })).statusCode, src).toBe(200)
    }
    expect((await app.inject({ url: '/dashboard/vendor/uPlot.iife.min.js' })).body).toMatch(/uPlot/)
    expect((await app.inject({ url: '/dashboard/../config.ts' })).statusCode).toBe(404)
  })

  it('answers every read route openly, or with the dashboardToken (or adminToken) when one is set', async () => {
    const open = await server(CONFIG)
    const week = (await open.inject({ url: '/v1/timeline?site=leeds' })).json()
    expect(week).toMatchObject({ scope: { kind: 'site', name: 'leeds' }, timezone: 'Europe/London' })
    expect(Date.parse(week.start) <= Date.parse(week.now) && Date.parse(week.now) < Date.parse(week.end)).toBe(true)
    expect((await open.inject({ url: '/v1/history' })).json()).toMatchObject({ intervalMs: 5000, maxSamples: 720, samples: [{ sites: { leeds: { lan: 0, wan: 0 } } }] })
    expect((await open.inject({ url: '/v1/nodes' })).json()).toMatchObject({ total: 0, nodes: [] })
    expect((await open.inject({ url: '/v1/nodes?limit=0' })).json()).toMatchObject({ error: { code: 'PEERSTAGE_TRACKER_BAD_REQUEST' } })
    expect((await open.inject({ url: '/v1/timeline?subnet=10.9.9.0/24' })).statusCode).toBe(404)
    expect((await open.inject({ url: '/v1/timeline?site=leeds&subnet=127.0.1.0/24' })).statusCode).toBe(400)

    const reads = ['/v1/timeline?site=leeds', '/v1/history', '/v1/nodes', '/v1/status', '/v1/deployments', '/v1/packages', '/v1/packages/status', '/metrics']
    for (const url of reads) expect((await open.inject({ url })).statusCode, url).toBe(200)
    const guarded = await server({ ...CONFIG, dashboardToken: 'dash' })
    // One deployment id for the routes that name one: 404 with a token, so the token passed and the route answered.
    const missing = ['/v1/deployments/d-00000000', '/v1/deployments/d-00000000/status']
    for (const url of missing) {
      expect((await guarded.inject({ url })).statusCode, url).toBe(401)
      expect((await guarded.inject({ url, headers: { authorization: 'Bearer dash' } })).statusCode, url).toBe(404)
    }
    for (const url of reads) {
      expect((await guarded.inject({ url })).json(), url).toMatchObject({ error: { code: 'PEERSTAGE_TRACKER_UNAUTHORIZED' } })
      expect((await guarded.inject({ url, headers: { authorization: 'Bearer nope' } })).statusCode, url).toBe(401)
      expect((await guarded.inject({ url, headers: { authorization: 'Bearer dash' } })).statusCode, url).toBe(200)
      expect((await guarded.inject({ url, headers: { authorization: `Bearer ${CONFIG.adminToken}` } })).statusCode, url).toBe(200)
    }
    expect((await guarded.inject({ url: '/' })).statusCode).toBe(200) // the page holds no data
  })
})
