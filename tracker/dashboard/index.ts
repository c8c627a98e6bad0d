/**
 * dashboard: the tracker's web page at `GET /` for network and imaging teams, and the
 * read-only routes it needs beyond the status API:
 * - `GET /v1/timeline?site=|subnet=|link=&week=YYYY-MM-DD`: a scope's week of windows, who wins when
 * - `GET /v1/history`: per-site byte totals sampled every few seconds (bounded)
 * - `GET /v1/nodes`: DPs and clients with site, subnet, last seen and bytes
 * The page is plain ES modules and CSS from assets/ plus uPlot (from node_modules), polling
 * the JSON API every 2 s; changes go through the admin API (`PUT /v1/throttle`) with the
 * admin token the person signs in with, sent only as a bearer header.
 */
import type { FastifyInstance } from 'fastify'
import { backgroundClock, type Clock } from '../../bandwidth/index.ts'
import { TrackerErrorCodes, trackerError } from '../protocol/index.ts'
import type { Tracker } from '../tracker.ts'
import { loadAssets } from './assets-files.ts'
import { ByteHistory, siteBytesOf, type ByteHistoryInit } from './history.ts'
import { nodeList } from './nodes.ts'
import { scopeTimeline, type TimelineQuery } from './scopes.ts'

export { VENDOR_FILES } from './assets-files.ts'
export { ByteHistory, siteBytesOf, type ByteHistoryInit, type HistorySample, type SiteBytes } from './history.ts'
export { layoutWeek, decideByScopes, type WeekTimeline, type TimelineScope, type Decision } from './timeline.ts'
export { scopeTimeline, type ScopeTimeline, type TimelineQuery } from './scopes.ts'

export interface DashboardOptions {
  history?: ByteHistoryInit
  /** Timers of the history's sampling. @default backgroundClock */
  clock?: Clock
}

/**
 * Registers the page, its files and its routes on the tracker's server; samples the history while the server is open.
 * The data routes are `access: 'read'`, checked by the server's hook like the status API; the page itself holds no data.
 */
export function registerDashboard(app: FastifyInstance, tracker: Tracker, options: DashboardOptions = {}): void {
  const assets = loadAssets()
  const sites = tracker.config.sites.map((s) => s.name)
  const siteBytes = () => siteBytesOf(tracker.bytesBySubnet(), sites, (subnet) => tracker.budgets.siteOf(subnet))
  const history = new ByteHistory(siteBytes, { clock: options.clock ?? backgroundClock, now: tracker.now }, options.history)
  app.addHook('onReady', async () => history.start())
  app.addHook('onClose', async () => history.stop())

  // The page never loads anything from elsewhere, nor runs inline script.
  const headers = { 'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'", 'x-content-type-options': 'nosniff', 'cache-control': 'no-cache' }
  const page = assets.get('index.html')!
  app.get('/', async (_req, reply) => reply.headers(headers).type(page.type).send(page.body))
  app.get('/dashboard/*', async (req, reply) => {
    const asset = assets.get((req.params as { '*': string })['*'])
    if (asset === undefined) throw trackerError(TrackerErrorCodes.NOT_FOUND, `no dashboard file ${req.url}`)
    return reply.headers(headers).type(asset.type).send(asset.body)
  })

  app.get('/v1/timeline', { config: { access: 'read' } }, async (req) => scopeTimeline(tracker.budgets, req.query as TimelineQuery, tracker.now()))
  app.get('/v1/history', { config: { access: 'read' } }, async () => history.json)
  app.get('/v1/nodes', { config: { access: 'read' } }, async (req) => {
    const limit = Number((req.query as { limit?: string }).limit ?? 1000)
    if (!Number.isSafeInteger(limit) || limit < 1) throw trackerError(TrackerErrorCodes.BAD_REQUEST, `limit must be a whole number >= 1, got '${(req.query as { limit?: string }).limit}'`)
    return nodeList(tracker.nodes(), tracker.config.registrationSeconds, tracker.now(), limit)
  })
}
