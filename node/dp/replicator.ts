import { EventEmitter } from 'node:events'
import { totalBytes } from '../../chunker/index.ts'
import { silentLogger, type Logger } from '../../common/index.ts'
import { MAX_REASON_CHARS, type AnnounceAnswer, type AnnounceRequest, type ReplicaOffer, type ReplicaReport, type ReplicaState } from '../../tracker/protocol/index.ts'
import type { PeerNode } from '../peer-node.ts'
import { Stager, type StagerInit } from '../staging/index.ts'
import type { PackageSwarm } from '../swarm.ts'
import { deleteReplica, loadReplicas, saveReplica, type ReplicaRecord } from './records.ts'

export interface ReplicatorInit {
  node: PeerNode
  /** Where manifests come from: the stager's tracker. */
  tracker: StagerInit['tracker']
  /** The DP's data directory: staging/ and packages/ go under it. */
  dataDir: string
  /** Publishers whose packages this DP accepts; undefined: any validly signed one the tracker lists (the tracker checks its own trust). */
  trusted?: string[]
  /** Wall clock. @default () => new Date() */
  now?: () => Date
  logger?: Logger
}

/**
 * A DP's replication: follows the packages the tracker says its site must hold. Each new
 * one is fetched into `staging/` from the peers the tracker hands a DP (its own site's DPs,
 * then its parent site's, paced to the link), reusing chunks of packages already here;
 * once whole it is verified from disk, moved under `packages/ID` in one rename,
 * and seeded. A package no longer listed is deleted once nothing replicating might still
 * reuse its chunks. Every state is saved before it takes effect, so a restart resumes.
 * Follows the tracker's answers (`onAnswer`); emits `changed` when the tracker should hear
 * at once (the announcer sends `report()` and `unheld()`).
 */
export class Replicator extends EventEmitter<{ state: [ReplicaRecord], removed: [ReplicaRecord], changed: [] }> {
  private readonly init: ReplicatorInit
  private readonly log: Logger
  private readonly records = new Map<string, ReplicaRecord>()
  private readonly watched = new WeakSet<PackageSwarm>()
  private readonly stager: Stager
  private work: Promise<void> = Promise.resolve()
  private stopped = false

  private constructor(init: ReplicatorInit) {
    super()
    this.init = init
    this.log = init.logger ?? silentLogger()
    this.stager = new Stager({ node: init.node, tracker: init.tracker, dataDir: init.dataDir, ...(init.trusted !== undefined && { trusted: init.trusted }), now: () => this.now() })
  }

  /** Loads saved replicas and resumes those under way. */
  static async start(init: ReplicatorInit): Promise<Replicator> {
    const r = new Replicator(init)
    for (const rec of await loadReplicas(init.node.store)) {
      if (rec.state === 'failed') rec.retryAt = 0 // a restart (new --trust, more disk) tries every failure again
      r.records.set(rec.packageId, rec)
      const stored = await init.node.store.getPackage(rec.packageId)
      if (stored !== undefined) r.watch(await init.node.want(stored.signed, stored.root, { reuse: true }))
    }
    return r
  }

  /** Replicated packages, newest change first. */
  list(): ReplicaRecord[] {
    return [...this.records.values()].sort((a, b) => b.updatedAt.localeCompare(a.updatedAt))
  }

  get(packageId: string): ReplicaRecord | undefined {
    return this.records.get(packageId)
  }

  /** Waits for the step under way; nothing new starts after. */
  async stop(): Promise<void> {
    this.stopped = true
    await this.work
  }

  /** Follows the packages a tracker's answer says this DP's site must hold. */
  onAnswer(answer: AnnounceAnswer): void {
    const offers = answer.replicate
    if (offers === undefined || this.stopped) return // a tracker without replication
    this.enqueue(() => this.follow(offers))
  }

  private enqueue(step: () => Promise<void>): void {
    this.work = this.work.then(() => (this.stopped ? undefined : step())).catch((err: Error) => this.log.error({ err: err.message }, 'replication step failed'))
  }

  /** Starts what is listed and not held; deletes what is held and no longer listed. */
  private async follow(offers: ReplicaOffer[]): Promise<void> {
    const now = this.now()
    const listed = new Set(offers.map((o) => o.id))
    for (const offer of offers) {
      const swarm = this.init.node.swarmOf(offer.id)
      let rec = this.records.get(offer.id)
      if (swarm?.pkg.readOnly === true) { // published here from its source files since
        if (rec !== undefined) await this.forget(rec)
        continue
      }
      if (rec === undefined) {
        rec = { packageId: offer.id, name: offer.name, version: offer.version, state: 'replicating', updatedAt: new Date(now).toISOString() }
        this.records.set(offer.id, rec)
        await saveReplica(this.init.node.store, rec)
        this.log.info({ package: `${offer.name}@${offer.version}` }, 'new package to replicate')
        this.emit('state', rec)
      }
      if (rec.state === 'failed' && (rec.retryAt === undefined || rec.retryAt > now)) continue
      if (swarm === undefined) await this.begin(rec)
      else if (rec.state === 'failed' || rec.state === 'verifying' || (rec.state === 'replicating' && swarm.pkg.complete)) await this.finish(rec, swarm)
    }
    const busy = [...this.records.values()].some((r) => listed.has(r.packageId) && (r.state === 'replicating' || r.state === 'verifying'))
    for (const rec of [...this.records.values()]) {
      if (listed.has(rec.packageId)) continue
      // A version replicating now may still be copying chunks out of this one.
      if (busy) continue
      await this.remove(rec)
    }
  }

  /** Starts fetching with every chunk already here, or says why it cannot. */
  private async begin(rec: ReplicaRecord): Promise<void> {
    const start = await this.stager.begin(rec.packageId)
    if (start.kind === 'no-space') rec.pieces = start.pieces
    if (start.kind !== 'fetching') {
      await this.set(rec, 'failed', { reason: start.reason, ...(start.kind !== 'refused' && { retryAt: start.retryAt }) })
      return
    }
    const swarm = start.swarm
    rec.pieces = swarm.pkg.pieceCount
    this.watch(swarm)
    if (swarm.pkg.complete) await this.finish(rec, swarm)
    else await this.set(rec, 'replicating')
    this.emit('changed')
  }

  /** Verifies from disk (bad pieces go back to the swarm), then moves it under packages/ and seeds. */
  private async finish(rec: ReplicaRecord, swarm: PackageSwarm): Promise<void> {
    if (!swarm.pkg.complete) return this.set(rec, 'replicating')
    await this.set(rec, 'verifying')
    const end = await this.stager.finish(swarm)
    if (end.kind === 'repairing') {
      this.log.warn({ package: `${rec.name}@${rec.version}`, pieces: end.badPieces }, 'replica failed verification on disk: fetching the bad pieces again')
      await this.set(rec, 'replicating', { reason: end.reason })
    } else {
      await this.set(rec, 'seeding', { copiedAt: new Date(this.now()).toISOString() })
      this.log.info({ package: `${rec.name}@${rec.version}`, at: end.target }, 'replica complete and verified')
    }
    this.emit('changed')
  }

  private async remove(rec: ReplicaRecord): Promise<void> {
    this.log.info({ package: `${rec.name}@${rec.version}` }, 'no longer listed by the tracker: deleting it')
    await this.init.node.drop(rec.packageId)
    await this.forget(rec)
    this.emit('removed', rec)
    this.emit('changed')
  }

  private async forget(rec: ReplicaRecord): Promise<void> {
    await deleteReplica(this.init.node.store, rec.packageId)
    this.records.delete(rec.packageId)
  }

  private watch(swarm: PackageSwarm): void {
    if (this.watched.has(swarm)) return
    this.watched.add(swarm)
    const id = swarm.pkg.packageId
    swarm.on('complete', () => this.enqueue(async () => {
      const rec = this.records.get(id)
      if (rec !== undefined && rec.state !== 'seeding' && this.init.node.swarmOf(id) === swarm) await this.finish(rec, swarm)
    }))
    swarm.on('error', (err) => this.enqueue(async () => {
      const rec = this.records.get(id)
      const retryAt = this.stager.retryAfter(err)
      if (rec !== undefined) await this.set(rec, 'failed', { reason: err.message, ...(retryAt !== undefined && { retryAt }) })
    }))
  }

  /** What the announces carry for a package of this DP. */
  report(swarm: PackageSwarm): ReplicaReport | undefined {
    const pkg = swarm.pkg
    const base = { presentBytes: pkg.presentBytes, totalBytes: totalBytes(pkg.manifest) }
    if (pkg.readOnly) return { state: 'seeding', ...base, origin: 'published' }
    const rec = this.records.get(pkg.packageId)
    if (rec === undefined) return undefined
    return { state: rec.state, ...base, origin: 'replicated', ...(rec.copiedAt !== undefined && { copiedAt: rec.copiedAt }), ...(rec.reason !== undefined && { reason: rec.reason.slice(0, MAX_REASON_CHARS) }) }
  }

  /** Replicas that failed before they had a swarm (refused manifest, no disk space): reported so status shows why. */
  unheld(): AnnounceRequest['packages'] {
    return [...this.records.values()].filter((r) => this.init.node.swarmOf(r.packageId) === undefined).map((r) => ({
      id: r.packageId,
      have: 0,
      pieces: r.pieces ?? 1,
      replica: { state: r.state, presentBytes: 0, totalBytes: 0, origin: 'replicated' as const, ...(r.reason !== undefined && { reason: r.reason.slice(0, MAX_REASON_CHARS) }) },
    }))
  }

  private async set(rec: ReplicaRecord, state: ReplicaState, fields: Partial<Pick<ReplicaRecord, 'reason' | 'copiedAt' | 'retryAt'>> = {}): Promise<void> {
    const changed = rec.state !== state
    rec.state = state
    delete rec.reason
    delete rec.retryAt
    Object.assign(rec, fields)
    rec.updatedAt = new Date(this.now()).toISOString()
    await saveReplica(this.init.node.store, rec)
    if (changed || state === 'failed') {
      this.log.info({ package: `${rec.name}@${rec.version}`, state, reason: rec.reason }, 'replica state')
      this.emit('state', rec)
    }
  }

  private now(): number {
    return (this.init.now ?? (() => new Date()))().getTime()
  }
}
