import { Readable } from 'node:stream'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { createAuditLog, errorClassOf, isPeerstageError, type Logger } from '../common/index.ts'
import type { OverrideSpec, ScopeKey } from './budgets.ts'
import {
  addPackageBody, announceAnswer, announceBody, budgetsAnswer, budgetsQuery, changesAnswer, changesQuery, createDeploymentBody, DEPLOYMENT_BODY_LIMIT, deploymentParams, manifestParams,
  MAX_ANNOUNCE_BODY_BYTES, nodeParams, packageParams, parseCidr, plainIpv4, scopeQuery, SIGNATURE_HEADER, throttleBody, TrackerErrorCodes, trackerError,
  type AnnounceRequest, type DeploymentInput,
} from './protocol/index.ts'
import { announceJson } from './announce-json.ts'
import { registerAuditHook } from './audit-hook.ts'
import { registerRateLimit } from './rate-limit.ts'
import { AnnounceVerifier } from './announce-verifier.ts'
import { registerDashboard } from './dashboard/index.ts'
import { readTlsPair, sameToken, type TlsPair } from './secrets.ts'
import type { Tracker } from './tracker.ts'

const STATUS_OF: Record<string, number> = {
  [TrackerErrorCodes.BAD_REQUEST]: 400,
  [TrackerErrorCodes.UNTRUSTED_PACKAGE]: 400,
  [TrackerErrorCodes.UNAUTHORIZED]: 401,
  [TrackerErrorCodes.BAD_SIGNATURE]: 401,
  [TrackerErrorCodes.STALE_SIGNATURE]: 401,
  [TrackerErrorCodes.NOT_FOUND]: 404,
  [TrackerErrorCodes.PACKAGE_IN_USE]: 409,
  [TrackerErrorCodes.PEER_BOUND]: 409,
  [TrackerErrorCodes.VERSION_TAKEN]: 409,
  [TrackerErrorCodes.STORE_FAILED]: 503,
  [TrackerErrorCodes.STORE_UNAVAILABLE]: 503,
}

function bearer(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization
  return h?.startsWith('Bearer ') ? h.slice(7) : undefined
}

/** Any of `accepted` will do; an undefined first (the usual token unset) means the route is open. */
function requireToken(req: FastifyRequest, expected: string | undefined, what: string, ...alsoAccepted: Array<string | undefined>): void {
  if (expected === undefined) return
  const given = bearer(req)
  if (given === undefined || ![expected, ...alsoAccepted].some((t) => t !== undefined && sameToken(given, t))) {
    throw trackerError(TrackerErrorCodes.UNAUTHORIZED, given === undefined ? `${what} needs 'Authorization: Bearer TOKEN'` : `wrong token for ${what}`)
  }
}

/** Who may call a route, checked in `onRequest`: before a byte of the body is read or parsed. */
type Access = 'open' | 'read' | 'view' | 'admin' | 'dp' | 'announce' | 'manifest' | 'node'

declare module 'fastify' {
  interface FastifyContextConfig { access?: Access }
  interface FastifyRequest { rawBody?: string }
}

/** Bodies of routes that do not name a larger limit: throttle specs are small. */
const DEFAULT_BODY_LIMIT = 64 * 1024

/** `?site=` or `?subnet=` (exactly one) → scope key; subnets are canonicalised. */
function scopeOf(input: { site?: string, subnet?: string }): ScopeKey {
  if ((input.site === undefined) === (input.subnet === undefined)) throw trackerError(TrackerErrorCodes.BAD_REQUEST, 'give exactly one of site or subnet')
  if (input.site !== undefined) return `site:${input.site}`
  const cidr = parseCidr(input.subnet!)
  if (cidr === undefined) throw trackerError(TrackerErrorCodes.BAD_REQUEST, `subnet '${input.subnet}' is not an IPv4 CIDR like 10.1.2.0/24`)
  return `subnet:${cidr.text}`
}

export interface TrackerServerInit {
  logger?: Logger
  /** Longest a budgets long-poll may wait. @default 25 */
  maxBudgetWaitSeconds?: number
  /** Serve HTTPS only, with this pair (a TlsReloader swaps it later). @default read from the config's `tls:`; without it, plain HTTP */
  tls?: TlsPair
}

/**
 * The tracker's HTTP/JSON API on fastify:
 * - `POST /v1/announce` (client token if configured; DPs the DP token): register and get peers, leases, budgets
 * - `GET /v1/budgets?after=V&waitSeconds=S` (DP token): per-subnet budgets, long-polled until they change
 * - `GET /v1/changes?peer=ID&after=V&waitSeconds=S` (client or DP token): long-polled until a change concerns that node
 * - `GET /v1/status` (viewer token if configured, as every read route): per site and subnet: nodes, leases, budget now, bytes per package
 * - `GET /v1/throttle` (admin or viewer token), `PUT|DELETE /v1/throttle` (admin token): a site's or subnet's windows, default and lease limit
 * - `POST /v1/deployments`, `DELETE /v1/deployments/:id` (admin token): create (signed, trusted manifest) and cancel
 * - `GET /v1/deployments`, `GET /v1/deployments/:id`, `GET /v1/deployments/:id/status`: list, show, clients' progress
 * - `POST /v1/packages`, `DELETE /v1/packages/:id` (admin token): list (signed, trusted manifest) and unlist a package DPs replicate
 * - `GET /v1/packages`, `GET /v1/packages/status`: the catalogue; per package, site and DP, the replicas' states
 * - `GET /v1/manifests/:packageId` (client token if configured): a catalogued or deployed package's manifest, byte for byte
 * - `DELETE /v1/nodes/:peerId` (admin token): forget a node now, releasing its subnet binding and leases
 * - `GET /v1/backup` (admin token): the whole store at one instant, as a backup's JSON lines (store/backup.ts)
 * - `GET /metrics` (viewer token if configured), `GET /v1/health`
 * Tokens are checked before a body is read; announces must be signed by the node's key
 * (node-auth.ts, announce-verifier.ts). Errors are `{ error: { code, message } }` with 400, 401, 404, 409, 413,
 * 429 (too many requests from one address: rate-limit.ts), 500, or 503 when the store refused a change (which then did not happen).
 */
export function createTrackerServer(tracker: Tracker, init: TrackerServerInit = {}): FastifyInstance {
  const config = tracker.config
  // With tls: in the config there is no plain HTTP at all, whoever builds the server.
  const tls = init.tls ?? (config.tls === undefined ? undefined : readTlsPair(config.tls))
  const app = Fastify({
    ...(tls !== undefined && { https: { cert: tls.cert, key: tls.key } }),
    bodyLimit: DEFAULT_BODY_LIMIT,
    ajv: { customOptions: { removeAdditional: false, allErrors: false } },
    // The real source address matters (it decides the subnet): no proxy headers are trusted.
    trustProxy: false,
    // The router's own refusals (a path part over 100 characters: 414; a broken %-escape: 400)
    // answer in the API's error shape too, not fastify's (found by the fuzzer).
    frameworkErrors: (err: Error & { statusCode?: number }, _req: FastifyRequest, reply: FastifyReply) => {
      reply.code(err.statusCode ?? 400).send({ error: { code: TrackerErrorCodes.BAD_REQUEST, message: err.message } })
    },
  }) as unknown as FastifyInstance // https or http: the routes see the same requests
  const log = init.logger

  app.setErrorHandler((err: Error & { statusCode?: number, validation?: unknown, code?: string }, _req, reply) => {
    if (isPeerstageError(err)) {
      const status = STATUS_OF[err.code] ?? (errorClassOf(err) === 'usage' ? 400 : 500) // a bad rate or window in a body
      // A signature refused for its time: the tracker's clock, so the node can sign by it.
      const now = err.code === TrackerErrorCodes.STALE_SIGNATURE ? { now: tracker.now().getTime() } : {}
      return reply.code(status).send({ error: { code: err.code, message: err.message, ...now } })
    }
    if (err.validation !== undefined || (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500)) {
      return reply.code(err.statusCode ?? 400).send({ error: { code: TrackerErrorCodes.BAD_REQUEST, message: err.message } })
    }
    log?.error({ err: err.message }, 'tracker request failed')
    return reply.code(500).send({ error: { code: TrackerErrorCodes.INTERNAL, message: err.message } })
  })
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: { code: TrackerErrorCodes.NOT_FOUND, message: `no route ${req.method} ${req.url}` } }))

  const sourceIp = (req: FastifyRequest): string => plainIpv4(req.socket.remoteAddress ?? '')

  // Audit lines (refused tokens, bad requests, floods), themselves rate-limited per kind and address.
  const audit = log === undefined ? undefined : createAuditLog(log, { nowMs: () => tracker.now().getTime() })
  if (audit !== undefined) registerAuditHook(app, audit)
  // Before the tokens: a flood is refused before anything else is done for it.
  registerRateLimit(app, config.rateLimit, () => tracker.now().getTime(), audit)

  // Tokens first: an unauthenticated request never has its body read, parsed or validated.
  app.addHook('onRequest', async (req) => {
    switch (req.routeOptions.config.access ?? 'open') {
      case 'admin': return requireToken(req, config.adminToken, 'the admin API')
      // What status, deployments, packages, throttle show, /metrics and the dashboard show: open unless a viewerToken is set.
      case 'read': return requireToken(req, config.viewerToken, 'reading the tracker (viewerToken)', config.adminToken)
      // Throttle show: the admin's, and the viewer's when that role is set (never open: it was admin-only before the role).
      case 'view': return requireToken(req, config.adminToken, 'the admin API (or the viewerToken)', config.viewerToken)
      case 'dp': return requireToken(req, config.dpToken, 'budgets')
      case 'node': return requireToken(req, config.clientToken, 'changes', config.dpToken)
      case 'manifest': return requireToken(req, config.clientToken, 'a manifest', config.dpToken, config.adminToken)
      // Which of the two the role needs is checked once the (size-capped) body says the role.
      case 'announce': return requireToken(req, config.clientToken, 'an announce', config.dpToken)
    }
  })
  // The announce's signature covers its exact bytes: keep them beside the parsed body.
  const parseJson = app.getDefaultJsonParser('error', 'ignore')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, text, done) => {
    req.rawBody = text as string
    parseJson(req, text as string, done)
  })
  const verifier = new AnnounceVerifier()

  app.post('/v1/announce', { bodyLimit: MAX_ANNOUNCE_BODY_BYTES, config: { access: 'announce' }, schema: { body: announceBody, response: { 200: announceAnswer } } }, async (req, reply) => {
    const body = req.body as AnnounceRequest
    requireToken(req, body.role === 'dp' ? config.dpToken : config.clientToken, body.role === 'dp' ? 'a DP announce' : 'a client announce')
    for (const p of body.packages) {
      if (p.have > p.pieces) throw trackerError(TrackerErrorCodes.BAD_REQUEST, `package ${p.id}: have (${p.have}) is more than pieces (${p.pieces})`)
    }
    verifier.verify(body.peerId, req.rawBody ?? '', req.headers[SIGNATURE_HEADER], tracker.now().getTime())
    const answer = await tracker.announce(body, sourceIp(req))
    return reply.type('application/json; charset=utf-8').send(announceJson(answer, reply.getSerializationFunction('200')!))
  })

  // A long-poll ends when its asker goes, or when the server closes: close waits for the
  // requests in flight, and would otherwise wait out every node's long-poll (up to 25 s).
  const closing = new AbortController()
  app.addHook('preClose', async () => closing.abort())
  const longPollSignal = (req: FastifyRequest): AbortSignal => {
    const gone = new AbortController()
    req.raw.once('close', () => gone.abort())
    return AbortSignal.any([gone.signal, closing.signal])
  }

  app.get('/v1/budgets', { config: { access: 'dp' }, schema: { querystring: budgetsQuery, response: { 200: budgetsAnswer } } }, async (req) => {
    const q = req.query as { after?: number, waitSeconds?: number }
    const wait = Math.min(q.waitSeconds ?? 0, init.maxBudgetWaitSeconds ?? 25)
    if (q.after !== undefined && wait > 0) await tracker.waitForBudgets(q.after, wait * 1000, longPollSignal(req))
    return tracker.budgetList(tracker.budgets.place(sourceIp(req)).site)
  })

  app.get('/v1/changes', { config: { access: 'node' }, schema: { querystring: changesQuery, response: { 200: changesAnswer } } }, async (req) => {
    const q = req.query as { peer: string, after: number, waitSeconds?: number }
    return tracker.waitForChanges(q.peer, q.after, Math.min(q.waitSeconds ?? 0, init.maxBudgetWaitSeconds ?? 25) * 1000, longPollSignal(req))
  })

  app.get('/v1/status', { config: { access: 'read' } }, async () => tracker.status())

  app.get('/v1/throttle', { config: { access: 'view' }, schema: { querystring: scopeQuery } }, async (req) => {
    return tracker.describe(scopeOf(req.query as { site?: string, subnet?: string }))
  })

  app.put('/v1/throttle', { config: { access: 'admin' }, schema: { body: throttleBody } }, async (req) => {
    const { site, subnet, ...spec } = req.body as OverrideSpec & { site?: string, subnet?: string }
    if (Object.keys(spec).length === 0) throw trackerError(TrackerErrorCodes.BAD_REQUEST, 'nothing to set: give windows, default, timezone or maxWanClients')
    const scope = scopeOf({ ...(site !== undefined && { site }), ...(subnet !== undefined && { subnet }) })
    await tracker.setOverride(scope, spec)
    return tracker.describe(scope)
  })

  app.delete('/v1/throttle', { config: { access: 'admin' }, schema: { querystring: scopeQuery } }, async (req) => {
    const scope = scopeOf(req.query as { site?: string, subnet?: string })
    const cleared = await tracker.clearOverride(scope)
    return { cleared, ...tracker.describe(scope) }
  })

  app.post('/v1/deployments', { bodyLimit: DEPLOYMENT_BODY_LIMIT, config: { access: 'admin' }, schema: { body: createDeploymentBody } }, async (req, reply) => {
    const deployment = await tracker.createDeployment(req.body as DeploymentInput)
    return reply.code(201).send(deployment)
  })

  app.get('/v1/deployments', { config: { access: 'read' } }, async () => ({ deployments: tracker.listDeployments() }))

  app.get('/v1/deployments/:id', { config: { access: 'read' }, schema: { params: deploymentParams } }, async (req) => tracker.getDeployment((req.params as { id: string }).id))

  app.get('/v1/deployments/:id/status', { config: { access: 'read' }, schema: { params: deploymentParams } }, async (req) => tracker.deploymentStatus((req.params as { id: string }).id))

  app.delete('/v1/deployments/:id', { config: { access: 'admin' }, schema: { params: deploymentParams } }, async (req) => {
    return tracker.cancelDeployment((req.params as { id: string }).id)
  })

  app.post('/v1/packages', { bodyLimit: DEPLOYMENT_BODY_LIMIT, config: { access: 'admin' }, schema: { body: addPackageBody } }, async (req, reply) => {
    const { entry, created } = await tracker.addPackage((req.body as { manifest: string }).manifest)
    return reply.code(created ? 201 : 200).send(entry)
  })

  // A node's peer id stays bound to the subnet it first announced from; this frees it at once.
  app.delete('/v1/nodes/:peerId', { config: { access: 'admin' }, schema: { params: nodeParams } }, async (req) => {
    return tracker.releaseNode((req.params as { peerId: string }).peerId)
  })

  app.get('/v1/packages', { config: { access: 'read' } }, async () => ({ packages: tracker.listPackages() }))

  app.get('/v1/packages/status', { config: { access: 'read' } }, async () => tracker.packageStatus())

  app.delete('/v1/packages/:id', { config: { access: 'admin' }, schema: { params: packageParams } }, async (req) => {
    return tracker.removePackage((req.params as { id: string }).id)
  })

  // The exact text: clients hash it to check it is the package the deployment names.
  app.get('/v1/manifests/:packageId', { config: { access: 'manifest' }, schema: { params: manifestParams } }, async (req, reply) => {
    const text = tracker.manifest((req.params as { packageId: string }).packageId)
    return reply.type('application/json; charset=utf-8').send(text)
  })

  app.get('/metrics', { config: { access: 'read' } }, async (_req, reply: FastifyReply) => {
    reply.header('content-type', tracker.metrics.registry.contentType)
    return tracker.metrics.registry.metrics()
  })

  // A consistent snapshot of the whole store, streamed as JSON lines (`peerstage tracker backup`).
  app.get('/v1/backup', { config: { access: 'admin' } }, async (_req, reply) => {
    const lines = await tracker.backup()
    return reply.type('application/x-ndjson; charset=utf-8').header('cache-control', 'no-store').send(Readable.from(lines))
  })

  app.get('/v1/health', async () => ({ ok: true, registrations: tracker.registrations }))
  registerDashboard(app, tracker)
  return app
}
