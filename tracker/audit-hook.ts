import type { FastifyError, FastifyInstance } from 'fastify'
import { isPeerstageError, type AuditLog } from '../common/index.ts'
import { plainIpv4, TrackerErrorCodes } from './protocol/index.ts'

/** The audit kind of a refused request, or undefined for one that is not the asker's doing (404, 409, 5xx). */
function kindOf(err: FastifyError): string | undefined {
  if (isPeerstageError(err, TrackerErrorCodes.UNAUTHORIZED)) return 'token-refused'
  if (isPeerstageError(err, TrackerErrorCodes.BAD_SIGNATURE) || isPeerstageError(err, TrackerErrorCodes.STALE_SIGNATURE)) return 'signature-refused'
  if (isPeerstageError(err, TrackerErrorCodes.BAD_REQUEST)) return 'bad-request'
  if (isPeerstageError(err)) return undefined
  // fastify's own: a schema's validation (400), a body over the route's cap (413), not JSON, …
  if (err.validation !== undefined || err.statusCode === 400 || err.statusCode === 413 || err.statusCode === 415) return 'bad-request'
  return undefined
}

/**
 * Audit lines (common/audit.ts) for refused tokens and signatures and for bad requests:
 * `{audit, addr, route, code, peer?}`, never the token or the body. One `onError` hook.
 */
export function registerAuditHook(app: FastifyInstance, audit: AuditLog): void {
  app.addHook('onError', async (req, _reply, err) => {
    const kind = kindOf(err)
    if (kind === undefined) return
    const body = req.body as { peerId?: unknown } | undefined
    audit(kind, {
      addr: plainIpv4(req.socket.remoteAddress ?? ''),
      route: `${req.method} ${req.routeOptions.url ?? req.url.split('?')[0]}`,
      code: isPeerstageError(err) ? err.code : (err.code ?? TrackerErrorCodes.BAD_REQUEST),
      ...(typeof body?.peerId === 'string' && { peer: body.peerId.slice(0, 128) }),
    })
  })
}
