import { randomUUID } from 'node:crypto'
import { Redis, ReplyError } from 'ioredis'
import { TrackerErrorCodes, trackerError } from '../protocol/index.ts'
import { checkAddition } from './add.ts'
import { checkTrackerFormat } from './format.ts'
import { LEASE_LUA, WRITE_LUA } from './redis-scripts.ts'
import { parseRedisUrl, shownRedisUrl } from './redis-url.ts'
import { STORE_KINDS, type SharedStore, type StoreKind, type StoreOp, type StoredRecord, type StoreSnapshot, type TrackerStore, type WrittenBatch } from './types.ts'

const PREFIX = 'peerstage:'
const SEQ = `${PREFIX}seq`
const CHANNEL = `${PREFIX}batches`
/** The store format mark (common/store-format.ts); outside every kind's hash. */
const FORMAT = `${PREFIX}format`
/** How often the feed's connection is pinged: a dead link is found within this plus the command timeout. */
const HEARTBEAT_MS = 5_000

export interface RedisStoreInit {
  /** How long connecting or one command may take before it fails with STORE_UNAVAILABLE. @default 2000 */
  timeoutMs?: number
  /** Told every connection error (refused, reset, timed out); the store reconnects by itself. */
  onWarning?: (err: Error) => void
}

type ScriptedRedis = Redis & {
  peerstageWrite: (...args: string[]) => Promise<number>
  peerstageLease: (...args: string[]) => Promise<number>
}

/**
 * A store several tracker replicas share: Redis (or Valkey) at `redis://HOST:PORT/DB`. Each
 * write is one Lua script that applies the batch, numbers it and publishes it, so every
 * replica sees every batch in order; leases are granted by one script per slot, so replicas
 * never grant more than the limit between them. Fails fast with STORE_UNAVAILABLE while
 * Redis is down or slow, and reconnects by itself.
 */
export class RedisTrackerStore implements TrackerStore, SharedStore {
  readonly replicaId = randomUUID()
  readonly shared: SharedStore = this
  private readonly redis: ScriptedRedis
  private readonly url: string
  /** `url` without its password, for messages. */
  private readonly shown: string
  private readonly init: RedisStoreInit
  private subscriber: Redis | undefined
  private closed = false
  private heartbeat: NodeJS.Timeout | undefined

  private constructor(redis: ScriptedRedis, url: string, shown: string, init: RedisStoreInit) {
    this.redis = redis
    this.url = url
    this.shown = shown
    this.init = init
  }

  /** Throws BAD_CONFIG for a URL that is not redis:// or rediss://, STORE_UNAVAILABLE when Redis does not answer. */
  static async open(url: string, init: RedisStoreInit = {}): Promise<RedisTrackerStore> {
    const shown = checkUrl(url)
    const redis = await connect(url, shown, init) as ScriptedRedis
    redis.defineCommand('peerstageWrite', { numberOfKeys: 0, lua: WRITE_LUA })
    redis.defineCommand('peerstageLease', { numberOfKeys: 0, lua: LEASE_LUA })
    const store = new RedisTrackerStore(redis, url, shown, init)
    try {
      await checkTrackerFormat({
        get: async (key) => (await store.run('read the store format', () => redis.get(key))) ?? undefined,
        put: async (key, value) => { await store.run('mark the store format', () => redis.set(key, value)) },
      }, FORMAT, { what: `the Redis store at ${shown}`, elsewhere: 'another --store (another DB number)', details: { url: shown } })
    } catch (err) {
      await store.close()
      throw err
    }
    return store
  }

  async write(ops: readonly StoreOp[]): Promise<void> {
    if (ops.length === 0) return
    const args = [PREFIX, this.replicaId, '']
    const published: string[] = []
    for (const op of ops) {
      if (op.type === 'add') checkAddition(op.value, `${op.kind} ${op.key}`)
      const value = op.type === 'del' ? '' : JSON.stringify(op.value)
      args.push(op.type, op.kind, op.key, value)
      // The ops as given, each value serialised once.
      published.push(`{"type":"${op.type}","kind":"${op.kind}","key":${JSON.stringify(op.key)}${op.type === 'del' ? '' : `,"value":${value}`}}`)
    }
    args[2] = `[${published.join(',')}]`
    await this.run('write the change', () => this.redis.peerstageWrite(...args))
  }

  async list(kind: StoreKind): Promise<Array<[string, unknown]>> {
    const all = await this.run(`list the ${kind} records`, () => this.redis.hgetall(PREFIX + kind))
    return Object.entries(all).map(([k, v]) => [k, JSON.parse(v)])
  }

  async snapshot(): Promise<StoreSnapshot> {
    const replies = await this.run('take a snapshot', async () => {
      const multi = this.redis.multi().get(SEQ)
      for (const kind of STORE_KINDS) multi.hgetall(PREFIX + kind)
      return (await multi.exec())!
    })
    const failed = replies.find(([err]) => err !== null)
    if (failed !== undefined) throw failed[0]
    const [[, seq], ...hashes] = replies
    const kinds = new Map(STORE_KINDS.map((kind, i) => [kind, Object.entries(hashes[i][1] as Record<string, string>).map(([k, v]): [string, unknown] => [k, JSON.parse(v)])]))
    return { seq: Number(seq ?? 0), kinds }
  }

  /** The snapshot's records (one MULTI: atomic against every replica's writes). */
  async* dump(): AsyncIterable<StoredRecord> {
    const { kinds } = await this.snapshot()
    for (const [kind, entries] of kinds) for (const [key, value] of entries) yield { kind, key, json: JSON.stringify(value) }
  }

  /**
   * On a second connection. After that connection was lost and is back (subscribed again),
   * or when a batch's seq is not the next, calls `interrupted` before anything newer.
   */
  async subscribe(handlers: { batch: (b: WrittenBatch) => void, interrupted: () => void }): Promise<void> {
    if (this.subscriber !== undefined) throw new TypeError('RedisTrackerStore.subscribe: already subscribed')
    const sub = this.subscriber = await connect(this.url, this.shown, this.init)
    let lastSeq: number | undefined
    let lost = false
    sub.on('message', (_channel: string, message: string) => {
      const b = JSON.parse(message) as WrittenBatch
      if (lastSeq !== undefined && b.seq !== lastSeq + 1) handlers.interrupted()
      lastSeq = b.seq
      handlers.batch(b)
    })
    sub.on('close', () => {
      lost = true
      lastSeq = undefined
    })
    sub.on('ready', () => {
      if (!lost) return
      lost = false
      // Subscribed again before `interrupted`, so a snapshot taken then misses no batch.
      sub.subscribe(CHANNEL).then(() => handlers.interrupted(), () => sub.disconnect(true))
    })
    await this.run('subscribe to batches', () => sub.subscribe(CHANNEL))
    // A link that dies without a reset is found by TCP only after minutes: ping, and reconnect when no answer comes.
    this.heartbeat = setInterval(() => {
      if (sub.status === 'ready') sub.ping().catch(() => sub.disconnect(true))
    }, HEARTBEAT_MS)
    this.heartbeat.unref()
  }

  async acquireLease(slot: { subnet: string, packageId: string, peerId: string }, limit: number, now: number, ttlMs: number): Promise<boolean> {
    if (slot.peerId.includes(' ')) throw new TypeError(`acquireLease: peer id ${JSON.stringify(slot.peerId)} holds a space`)
    const granted = await this.run('grant a lease', () => this.redis.peerstageLease(PREFIX, `${slot.subnet} ${slot.packageId}`, slot.peerId, String(limit), String(now), String(now + ttlMs)))
    return granted === 1
  }

  /** Quits both connections; safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearInterval(this.heartbeat)
    await Promise.all([this.redis, this.subscriber].map(async (r) => {
      if (r === undefined) return
      if (r.status === 'ready') await r.quit().catch(() => {})
      r.disconnect()
    }))
  }

  /** Runs one Redis call, turning a lost or slow connection into STORE_UNAVAILABLE. */
  private async run<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call()
    } catch (err) {
      throw unavailable(this.shown, what, err)
    }
  }
}

/** Connects, or throws STORE_UNAVAILABLE having stopped reconnecting. */
async function connect(url: string, shown: string, init: RedisStoreInit): Promise<Redis> {
  const timeoutMs = init.timeoutMs ?? 2000
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    // Fail at once while disconnected, and never send a command again after reporting it failed.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    autoResubscribe: false,
    retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
  })
  let lastError: Error | undefined
  redis.on('error', (err: Error) => {
    lastError = err
    init.onWarning?.(err)
  })
  try {
    await redis.connect()
  } catch (err) {
    redis.disconnect()
    // connect() only says "Connection is closed."; the 'error' before it says why.
    throw unavailable(shown, 'connect', lastError ?? err)
  }
  return redis
}

function unavailable(url: string, what: string, err: unknown): Error {
  const e = err as Error
  // Redis answered: a refused command is the caller's or the script's, not an outage.
  if (e instanceof ReplyError && !/^(LOADING|BUSY|MASTERDOWN)\b/.test(e.message)) return e
  return trackerError(TrackerErrorCodes.STORE_UNAVAILABLE, `Redis at ${url} did not answer when the tracker tried to ${what} (${e.message.replace(/\.$/, '')}): check that Redis runs there and this host can reach it; the tracker reconnects by itself, so try again`, { cause: err, details: { url } })
}

/** The URL as it may be shown (no password); throws BAD_CONFIG unless it names a Redis. */
function checkUrl(url: string): string {
  const parsed = parseRedisUrl(url)
  if (parsed === undefined) throw trackerError(TrackerErrorCodes.BAD_CONFIG, `store ${JSON.stringify(url)} is not a Redis URL: write redis://HOST:PORT/DB (or rediss:// for TLS)`, { details: { url } })
  return shownRedisUrl(parsed)
}
