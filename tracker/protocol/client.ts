import { isPeerstageError, PeerstageError } from '../../common/index.ts'
import type { AnnounceAnswer, AnnounceRequest, BudgetList } from './announce.ts'
import type { Deployment, DeploymentInput, DeploymentStatus } from './deployment.ts'
import { TrackerErrorCodes, trackerError } from './errors.ts'
import { SIGNATURE_HEADER, signatureHeader, type AnnounceSigner } from './node-auth.ts'
import type { CataloguePackage, PackageStatus } from './replication.ts'

// Not `import … from 'node:http'`: an ES import of a built-in builds its module facade,
// which reads every export, and three of node:http's load undici: ~110 CPU-ms of the start
// of every command that talks to a tracker. getBuiltinModule builds no facade.
const { Agent: HttpAgent, request: httpRequest } = process.getBuiltinModule('node:http')
const { Agent: HttpsAgent, request: httpsRequest } = process.getBuiltinModule('node:https')
const { pipeline } = process.getBuiltinModule('node:stream/promises')

export interface TrackerClientInit {
  /**
   * `http://host:port` of the tracker, or of several serving one estate: a request that
   * finds one unreachable (or its store failing) goes to the next, and the client stays
   * with the one that answered.
   */
  url: string | readonly string[]
  /** Bearer token: the DP token, the client token, or the admin token. */
  token?: string
  /** Local IP requests leave from: the tracker places a node by it. */
  localAddress?: string
  /** @default 10000 */
  timeoutMs?: number
  /**
   * For `https://` trackers: the certificates (PEM: a private CA, or the tracker's own
   * self-signed one) to trust instead of Node's default store; undefined: that store (Mozilla's
   * list, or the OS's with NODE_USE_SYSTEM_CA=1: loading the OS store here would cost each
   * command ~120-200 ms).
   */
  ca?: string | Buffer
  /**
   * Longest Retry-After (HTTP 429, PEERSTAGE_TRACKER_RATE_LIMITED) a request waits out by
   * itself before it asks once more; a longer one fails at once with the seconds in
   * `details.retryAfterSeconds`, for the caller to wait (the announcer does). @default 5000
   */
  maxRateLimitWaitMs?: number
}

export type Scope = { site: string } | { subnet: string }

/** What node/ and the CLI use to talk to a tracker: JSON over HTTP, kept-alive connections. */
export class TrackerClient {
  private readonly urls: readonly URL[]
  /** The tracker that answered last: requests go there first. */
  private current = 0
  private readonly init: TrackerClientInit
  private readonly agents: { http: import('node:http').Agent, https: import('node:http').Agent }
  /** Time of the last signed announce: each is signed strictly later (the tracker refuses replays). */
  private lastSignedAt = 0

  constructor(init: TrackerClientInit) {
    const given = typeof init.url === 'string' ? [init.url] : init.url
    if (given.length === 0) throw new TypeError('no tracker URL given')
    this.urls = given.map((u) => {
      let url: URL
      try {
        url = new URL(u)
      } catch {
        throw new TypeError(`tracker URL '${u}' is not a URL like http://10.0.0.5:7070`)
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`tracker URL '${u}' must start with http:// or https://`)
      return url
    })
    this.init = init
    const options = { keepAlive: true, maxSockets: 4, ...(init.localAddress && { localAddress: init.localAddress }) }
    this.agents = { http: new HttpAgent(options), https: new HttpsAgent({ ...options, ...(init.ca !== undefined && { ca: init.ca }) }) }
  }

  /** The tracker requests go to first: the one that answered last. */
  get url(): URL {
    return this.urls[this.current]!
  }

  /**
   * Announces, signed by the node's key (`signer.peerId` must be `body.peerId`) at the time
   * `now()` gives (the tracker refuses it more than a few minutes off its own clock).
   */
  async announce(body: AnnounceRequest, signer: AnnounceSigner, now: () => number = Date.now): Promise<AnnounceAnswer> {
    if (signer.peerId !== body.peerId) throw new TypeError(`an announce of ${body.peerId} cannot be signed by ${signer.peerId}`)
    const text = JSON.stringify(body)
    const before = this.lastSignedAt
    const at = this.lastSignedAt = Math.max(now(), this.lastSignedAt + 1)
    const headers = { [SIGNATURE_HEADER]: await signatureHeader(signer, text, at) }
    try {
      return await (this.call('POST', '/v1/announce', text, { headers }) as Promise<AnnounceAnswer>)
    } catch (err) {
      // Refused for its time, it was not recorded: a corrected clock may sign earlier than it.
      if (isPeerstageError(err, TrackerErrorCodes.STALE_SIGNATURE) && this.lastSignedAt === at) this.lastSignedAt = before
      throw err
    }
  }

  /** The budgets, waiting up to `waitSeconds` for a version newer than `after`. */
  budgets(after?: number, waitSeconds = 0, signal?: AbortSignal): Promise<BudgetList> {
    const q = after === undefined ? '' : `?after=${after}&waitSeconds=${waitSeconds}`
    return this.call('GET', `/v1/budgets${q}`, undefined, { signal, timeoutMs: (waitSeconds + 10) * 1000 }) as Promise<BudgetList>
  }

  /**
   * Long-polls for a change that concerns node `peerId` after version `after` (GET
   * /v1/changes): `changed` says to announce now; `version` is the next `after`.
   */
  changes(peerId: string, after: number, waitSeconds: number, signal?: AbortSignal): Promise<{ version: number, changed: boolean }> {
    const q = new URLSearchParams({ peer: peerId, after: String(after), waitSeconds: String(waitSeconds) })
    return this.call('GET', `/v1/changes?${q}`, undefined, { signal, timeoutMs: (waitSeconds + 10) * 1000 }) as Promise<{ version: number, changed: boolean }>
  }

  status(): Promise<Record<string, any>> {
    return this.call('GET', '/v1/status') as Promise<Record<string, any>>
  }

  showThrottle(scope: Scope): Promise<Record<string, any>> {
    return this.call('GET', `/v1/throttle?${new URLSearchParams(scope)}`) as Promise<Record<string, any>>
  }

  setThrottle(scope: Scope, spec: { timezone?: string, default?: string, windows?: string[], maxWanClients?: number }): Promise<Record<string, any>> {
    return this.call('PUT', '/v1/throttle', { ...scope, ...spec }) as Promise<Record<string, any>>
  }

  clearThrottle(scope: Scope): Promise<Record<string, any>> {
    return this.call('DELETE', `/v1/throttle?${new URLSearchParams(scope)}`) as Promise<Record<string, any>>
  }

  /** Admin token: registers a deployment of a signed manifest from a publisher the tracker trusts. */
  createDeployment(input: DeploymentInput): Promise<Deployment> {
    return this.call('POST', '/v1/deployments', input, { timeoutMs: Math.max(this.init.timeoutMs ?? 10_000, 60_000) }) as Promise<Deployment>
  }

  async listDeployments(): Promise<Deployment[]> {
    return ((await this.call('GET', '/v1/deployments')) as { deployments: Deployment[] }).deployments
  }

  getDeployment(id: string): Promise<Deployment> {
    return this.call('GET', `/v1/deployments/${encodeURIComponent(id)}`) as Promise<Deployment>
  }

  /** Admin token: the deployment leaves every client's announce answer; it is kept, with its reports. */
  cancelDeployment(id: string): Promise<Deployment> {
    return this.call('DELETE', `/v1/deployments/${encodeURIComponent(id)}`) as Promise<Deployment>
  }

  deploymentStatus(id: string): Promise<DeploymentStatus> {
    return this.call('GET', `/v1/deployments/${encodeURIComponent(id)}/status`) as Promise<DeploymentStatus>
  }

  /** Admin token: lists a signed package from a trusted publisher for the DPs to replicate; an already listed one comes back as it is. */
  addPackage(manifestText: string): Promise<CataloguePackage> {
    return this.call('POST', '/v1/packages', { manifest: manifestText }, { timeoutMs: Math.max(this.init.timeoutMs ?? 10_000, 60_000) }) as Promise<CataloguePackage>
  }

  async listPackages(): Promise<CataloguePackage[]> {
    return ((await this.call('GET', '/v1/packages')) as { packages: CataloguePackage[] }).packages
  }

  /** Admin token: unlists it (DPs delete their replicas); PEERSTAGE_TRACKER_PACKAGE_IN_USE while a live deployment names it. */
  removePackage(id: string): Promise<CataloguePackage> {
    return this.call('DELETE', `/v1/packages/${encodeURIComponent(id)}`) as Promise<CataloguePackage>
  }

  /** Admin token: forgets a node now, so its peer id may announce from another subnet. */
  releaseNode(peerId: string): Promise<{ peerId: string, released: boolean }> {
    return this.call('DELETE', `/v1/nodes/${encodeURIComponent(peerId)}`) as Promise<{ peerId: string, released: boolean }>
  }

  /** Per package, per site that must hold it, per DP: the replica's state. */
  packageStatus(): Promise<PackageStatus> {
    return this.call('GET', '/v1/packages/status') as Promise<PackageStatus>
  }

  /** A catalogued or deployed package's canonical manifest, exactly as the tracker holds it: hash it to check the package id. */
  manifest(packageId: string): Promise<string> {
    return this.call('GET', `/v1/manifests/${encodeURIComponent(packageId)}`, undefined, { text: true }) as Promise<string>
  }

  /**
   * Admin token: the tracker's whole store at one instant, a backup's JSON lines, streamed into
   * `sink` (resolves once it is all written there). Asks the tracker that answered last only:
   * a stream cut halfway is not continued from another.
   */
  async backup(sink: NodeJS.WritableStream): Promise<void> {
    await this.callOne(this.url, 'GET', '/v1/backup', undefined, { sink, timeoutMs: Math.max(this.init.timeoutMs ?? 10_000, 60_000) })
  }

  close(): void {
    this.agents.http.destroy()
    this.agents.https.destroy()
  }

  /**
   * One request, to the tracker that answered last, then to each other one while they are
   * unreachable or their store fails (UNREACHABLE, STORE_FAILED, STORE_UNAVAILABLE: the request did not take
   * effect there); the first that answers is kept for the next requests.
   */
  private async call(method: string, path: string, body?: unknown, options: CallOptions = {}): Promise<unknown> {
    try {
      return await this.callAny(method, path, body, options)
    } catch (err) {
      // Asked to slow down briefly: wait that long once, then ask again (never sooner).
      const wait = retryAfterMs(err)
      if (wait === undefined || wait > (this.init.maxRateLimitWaitMs ?? 5000)) throw err
      await sleep(wait, options.signal)
      return this.callAny(method, path, body, options)
    }
  }

  private async callAny(method: string, path: string, body: unknown, options: CallOptions): Promise<unknown> {
    for (let tried = 0; ; tried++) {
      const at = (this.current + tried) % this.urls.length
      try {
        const result = await this.callOne(this.urls[at]!, method, path, body, options)
        this.current = at
        return result
      } catch (err) {
        const failedHere = [TrackerErrorCodes.UNREACHABLE, TrackerErrorCodes.STORE_FAILED, TrackerErrorCodes.STORE_UNAVAILABLE].some((code) => isPeerstageError(err, code))
        if (!failedHere || options.signal?.aborted === true || tried + 1 === this.urls.length) throw err
      }
    }
  }

  /** JSON over HTTP; with `text`, a success's body is resolved as it came (errors are still JSON). */
  private callOne(base: URL, method: string, path: string, body: unknown, options: CallOptions): Promise<unknown> {
    const url = new URL(path, base)
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body)
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest
    return new Promise((resolve, reject) => {
      const req = request(url, {
        method,
        agent: url.protocol === 'https:' ? this.agents.https : this.agents.http,
        timeout: options.timeoutMs ?? this.init.timeoutMs ?? 10_000,
        ...(options.signal && { signal: options.signal }),
        headers: {
          accept: 'application/json',
          ...(payload !== undefined && { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
          ...(this.init.token !== undefined && { authorization: `Bearer ${this.init.token}` }),
          ...options.headers,
        },
      }, (res) => {
        const status0 = res.statusCode ?? 0
        if (options.sink !== undefined && status0 >= 200 && status0 < 300) {
          pipeline(res, options.sink).then(() => resolve(undefined), (err: Error) => reject(unreachable(base, err)))
          return
        }
        const parts: Buffer[] = []
        res.on('data', (d: Buffer) => parts.push(d))
        res.on('error', (err) => reject(unreachable(base, err)))
        res.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8')
          const status = res.statusCode ?? 0
          if (options.text === true && status >= 200 && status < 300) return resolve(text)
          let json: any
          try {
            json = JSON.parse(text)
          } catch {
            return reject(trackerError(TrackerErrorCodes.UNREACHABLE, `tracker ${base.origin} answered ${res.statusCode} with something that is not JSON`))
          }
          if (status >= 200 && status < 300) return resolve(json)
          const err = json?.error
          // 503: the tracker's store refused the change, which did not happen: the caller may retry.
          // `now`: the tracker's clock, on a refusal of a signature's time.
          // 429: the tracker's Retry-After travels with the error, so the caller waits that long (retryAfterMs).
          const retryAfterSeconds = status === 429 ? retryAfterOf(res.headers['retry-after']) : undefined
          if ((status < 500 || status === 503) && typeof err?.code === 'string') {
            const details = { status, ...(typeof err.now === 'number' && { trackerNowMs: err.now }), ...(retryAfterSeconds !== undefined && { retryAfterSeconds }) }
            return reject(new PeerstageError(err.code, `tracker: ${err.message}`, { details }))
          }
          reject(trackerError(TrackerErrorCodes.UNREACHABLE, `tracker ${base.origin} failed with HTTP ${status}: ${err?.message ?? text.slice(0, 200)}`))
        })
      })
      req.on('timeout', () => req.destroy(new Error('timed out')))
      req.on('error', (err) => reject(unreachable(base, err)))
      req.end(payload)
    })
  }
}

/** `sink`: a success's body is streamed there, not parsed (errors are still JSON). */
type CallOptions = { signal?: AbortSignal | undefined, timeoutMs?: number, text?: boolean, headers?: Record<string, string>, sink?: NodeJS.WritableStream }

/** What OpenSSL and Node call a certificate they cannot trust for this host (not a network fault: another tracker would not help). */
const UNTRUSTED_CERT_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID', 'INVALID_CA', 'CERT_REVOKED',
])

/** Longest Retry-After taken as given: a tracker cannot park a node for more than an hour. */
const MAX_RETRY_AFTER_SECONDS = 3600

/** Retry-After in seconds (the tracker sends whole seconds; an HTTP date is not expected from it); at least 1. */
function retryAfterOf(header: string | string[] | undefined): number {
  const seconds = Number(Array.isArray(header) ? header[0] : header)
  return Number.isFinite(seconds) ? Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(1, Math.ceil(seconds))) : 1
}

/**
 * How long the tracker asked us to wait before asking again (HTTP 429,
 * PEERSTAGE_TRACKER_RATE_LIMITED), in ms; undefined for any other error.
 */
export function retryAfterMs(err: unknown): number | undefined {
  if (!isPeerstageError(err, TrackerErrorCodes.RATE_LIMITED)) return undefined
  const seconds = err.details?.retryAfterSeconds
  return (typeof seconds === 'number' ? seconds : 1) * 1000
}

/** Resolves after `ms`, or rejects when `signal` aborts first. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) return reject(signal.reason as Error)
    const onAbort = (): void => { clearTimeout(timer); reject(signal!.reason as Error) }
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

function unreachable(url: URL, err: Error): PeerstageError {
  const code = (err as NodeJS.ErrnoException).code
  if (code !== undefined && UNTRUSTED_CERT_CODES.has(code)) {
    const why = code === 'ERR_TLS_CERT_ALTNAME_INVALID' ? `is not made for ${url.hostname} (use a name or IP of its subjectAltName in the URL)`
      : code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID' ? 'is outside its validity dates (renew it on the tracker)'
        : 'is not signed by a CA this node trusts (give that CA with --tracker-ca FILE)'
    return trackerError(TrackerErrorCodes.UNTRUSTED_CERTIFICATE, `the tracker at ${url.origin} presented a certificate that ${why}: ${code}`, { cause: err, details: { tlsCode: code } })
  }
  // The two ways a scheme that does not match the tracker's shows up: a TLS server drops plain HTTP, a plain server answers TLS with HTTP.
  const hint = url.protocol === 'http:' && code === 'ECONNRESET' ? ' (if the tracker serves HTTPS, use an https:// URL)'
    : url.protocol === 'https:' && code === 'EPROTO' ? ' (if the tracker serves plain HTTP, use an http:// URL)' : ''
  return trackerError(TrackerErrorCodes.UNREACHABLE, `cannot reach the tracker at ${url.origin}: ${code ?? err.message}${hint}`, { cause: err })
}
