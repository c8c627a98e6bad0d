import { EventEmitter } from 'node:events'
import { join } from 'node:path'
import { systemClock, type Clock } from '../../bandwidth/index.ts'
import { totalBytes } from '../../chunker/index.ts'
import { silentLogger, type Logger } from '../../common/index.ts'
import { FINAL_STATES, MAX_ANNOUNCE_DEPLOYMENTS, MAX_LOG_TAIL_CHARS, MAX_REASON_CHARS, type AnnounceAnswer, type DeploymentOffer, type DeploymentReport, type DeploymentState, type NodeProblem } from '../../tracker/protocol/index.ts'
import type { PeerNode } from '../peer-node.ts'
import { StoreErrorCodes, type StoredPackage } from '../store/index.ts'
import { freeBytes, Stager, type StagerInit } from '../staging/index.ts'
import type { PackageSwarm } from '../swarm.ts'
import type { ByteCounter } from '../tracker/index.ts'
import { evictFor, packagesBytes } from './cache.ts'
import { createClientMetrics, type ClientMetrics } from './metrics.ts'
import { DEFAULT_KILL_GRACE_MS, resumeProgram, runProgram, type ProgramResult } from './program.ts'
import { loadRecords, saveRecord, touchPackage, type ByteSources, type DeploymentRecord } from './records.ts'
import { expiresAt, startAt } from './schedule.ts'

/** Even with nothing due, look again this often (a wall-clock jump, a long timer). */
const MAX_SLEEP_MS = 60 * 60_000

export interface DeploymentClientInit {
  node: PeerNode
  /** Where manifests come from: the stager's tracker. */
  tracker: StagerInit['tracker']
  /** Bytes by source, for the reports. */
  bytes: ByteCounter
  /** The client's data directory: packages/ and staging/ and logs/ go under it. */
  dataDir: string
  /** Publishers (`ed25519:…`) whose packages this client accepts. */
  trusted: string[]
  /** Keep the packages' total size under this, evicting least recently used ones no pending deployment needs. */
  cacheMaxBytes?: number
  /** Wall clock. @default () => new Date() */
  now?: () => Date
  /** Timers. @default systemClock */
  clock?: Clock
  /** At stop, wait this long for a running program before killing it. @default 30000 */
  stopGraceMs?: number
  /** After a deployment's timeoutSeconds, SIGTERM the program's group, then SIGKILL it this much later. @default 10000 */
  timeoutGraceMs?: number
  logger?: Logger
}

/**
 * A client's deployments: learns them from the tracker's announce answers (`onAnswer`), pre-stages each
 * package from availableAt (+ jitter), verifies it from disk and materializes it under
 * `packages/ID/` (linked from `NAME@VERSION`), then at mandatoryAt verifies again and runs the program once.
 * Every state change is saved before it takes effect, so a restart resumes and a program
 * never runs twice; bad content is fetched again and never run. Emits `changed` when the
 * tracker should hear at once (the announcer sends `reports()`).
 */
export class DeploymentClient extends EventEmitter<{ state: [DeploymentRecord], changed: [] }> {
  readonly metrics: ClientMetrics
  private readonly init: DeploymentClientInit
  private readonly log: Logger
  private readonly records = new Map<string, DeploymentRecord>()
  /** Bytes of each record saved by earlier processes: reports add this process's counters. */
  private readonly earlierBytes = new Map<string, ByteSources>()
  private readonly watched = new WeakSet<PackageSwarm>()
  private readonly now: () => number
  private readonly clock: Clock
  private readonly stager: Stager
  private work: Promise<void> = Promise.resolve()
  private cancelWake: (() => void) | undefined
  private program: { id: string, done: Promise<void>, abort: AbortController } | undefined
  private stopped = false

  private constructor(init: DeploymentClientInit) {
    super()
    this.init = init
    this.log = init.logger ?? silentLogger()
    this.now = () => (init.now ?? (() => new Date()))().getTime()
    this.clock = init.clock ?? systemClock
    this.stager = new Stager({
      node: init.node, tracker: init.tracker, dataDir: init.dataDir, trusted: init.trusted, now: this.now,
      makeRoom: (need, packageId) => this.makeRoom(need, packageId),
    })
    this.metrics = createClientMetrics(init.node.metrics.registry, () => [...this.records.values()].map((r) => r.state))
  }

  /**
   * Loads saved deployments and starts their timers. One that was running when the process
   * died is never run again: it gets the exit its supervisor recorded, at once or when the
   * program (still running) exits; failed when none was recorded and the supervisor is gone.
   */
  static async start(init: DeploymentClientInit): Promise<DeploymentClient> {
    const c = new DeploymentClient(init)
    for (const r of await loadRecords(init.node.store)) {
      c.records.set(r.offer.id, r)
      c.earlierBytes.set(r.offer.id, r.bytes)
      if (r.state === 'running') await c.resume(r)
    }
    void c.tick()
    return c
  }

  private async resume(r: DeploymentRecord): Promise<void> {
    const abort = new AbortController()
    const resumed = r.supervisorPid === undefined ? undefined : resumeProgram({ supervisorPid: r.supervisorPid, logPath: this.logPathOf(r), signal: abort.signal })
    if (resumed === undefined) return this.set(r, 'failed', { reason: 'the client stopped while the program ran and its exit was not recorded; a program is never run twice', exitCode: null })
    this.log.info({ deployment: r.offer.id, supervisor: r.supervisorPid }, 'program started before this restart: taking its recorded exit')
    this.watchProgram(r, resumed, abort)
  }

  private logPathOf(r: DeploymentRecord): string {
    return join(this.init.dataDir, 'logs', `${r.offer.id}.log`)
  }

  /** Deployments this client knows, newest change first. */
  list(): DeploymentRecord[] {
    return [...this.records.values()].sort((a, b) => b.updatedAt.localeCompare(a.updatedAt))
  }

  get(id: string): DeploymentRecord | undefined {
    return this.records.get(id)
  }

  /** Re-examines every deployment now (also done on each answer and timer). */
  tick(): Promise<void> {
    this.work = this.work.then(() => this.advanceAll()).catch((err: Error) => this.log.error({ err: err.message }, 'deployment step failed'))
    return this.work
  }

  /** Stops timers and work; a running program gets `stopGraceMs` to finish, then SIGTERM. */
  async stop(): Promise<void> {
    this.stopped = true
    this.cancelWake?.()
    await this.work
    const p = this.program
    if (p === undefined) return
    // Real time, whatever clock times the deployments: the program runs on it.
    const grace = new Promise<'late'>((resolve) => { setTimeout(() => resolve('late'), this.init.stopGraceMs ?? 30_000).unref() })
    if (await Promise.race([p.done.then(() => 'done' as const), grace]) === 'late') {
      this.log.warn({ deployment: p.id }, 'program still running at stop: terminating it')
      p.abort.abort()
      await p.done
    }
  }

  /** Follows the deployments of a tracker's answer. */
  onAnswer(answer: AnnounceAnswer): void {
    const offers = answer.deployments
    if (offers === undefined || this.stopped) return
    this.work = this.work.then(() => this.follow(offers)).catch((err: Error) => this.log.error({ err: err.message }, 'deployment update failed'))
    void this.tick()
  }

  /** New offers become `waiting`; pending ones no longer offered are cancelled or expired. */
  private async follow(offers: DeploymentOffer[]): Promise<void> {
    const offered = new Set<string>()
    for (const offer of offers) {
      offered.add(offer.id)
      if (this.records.has(offer.id)) continue
      const r: DeploymentRecord = { offer, state: 'waiting', verifyFailures: 0, bytes: { lan: 0, wan: 0, reused: 0 }, updatedAt: new Date(this.now()).toISOString() }
      this.records.set(offer.id, r)
      await this.save(r)
      this.log.info({ deployment: offer.id, package: `${offer.name}@${offer.version}` }, 'new deployment')
    }
    for (const r of this.records.values()) {
      if (offered.has(r.offer.id) || FINAL_STATES.has(r.state) || r.state === 'running') continue
      const expired = this.now() >= expiresAt(r.offer)
      await this.set(r, expired ? 'expired' : 'cancelled', { reason: expired ? `expired at ${r.offer.expiresAt}` : 'no longer deployed to this client' })
      await this.dropIfUnneeded(r.offer.packageId)
    }
  }

  private async advanceAll(): Promise<void> {
    if (this.stopped) return
    for (const r of this.list().reverse()) {
      try {
        await this.advance(r)
      } catch (err) {
        this.log.error({ deployment: r.offer.id, err: (err as Error).message }, 'deployment step failed')
        const retryAt = this.stager.retryAfter(err as Error)
        if (retryAt !== undefined) await this.set(r, 'failed', { reason: (err as Error).message, retryAt })
      }
    }
    await this.keepCacheUnderMax()
    this.scheduleWake()
  }

  private async advance(r: DeploymentRecord): Promise<void> {
    const now = this.now()
    if (r.state === 'failed' && r.retryAt !== undefined && r.retryAt <= now) await this.set(r, 'waiting', { reason: `retrying: ${r.reason}` })
    if (FINAL_STATES.has(r.state) || r.state === 'running') return
    if (now >= expiresAt(r.offer)) {
      await this.set(r, 'expired', { reason: `expired at ${r.offer.expiresAt} before the program ran` })
      await this.dropIfUnneeded(r.offer.packageId)
      return
    }
    if (r.state === 'waiting') {
      if (now < startAt(this.init.node.peerId, r.offer)) return
      await this.begin(r)
    }
    let justVerified = false
    if (r.state === 'downloading') {
      const swarm = this.init.node.swarmOf(r.offer.packageId) ?? await this.begin(r)
      if (swarm === undefined) return
      this.watch(swarm)
      if (!swarm.pkg.complete) return
      const end = await this.stager.finish(swarm)
      if (end.kind === 'repairing') return this.refetch(r, end.badPieces)
      await touchPackage(this.init.node.store, swarm.pkg.packageId, this.now())
      await this.set(r, 'verified')
      justVerified = true
    }
    if (r.state === 'verified' && now >= Date.parse(r.offer.mandatoryAt) && this.program === undefined) {
      const swarm = this.init.node.swarmOf(r.offer.packageId)
      if (swarm === undefined) return this.set(r, 'waiting', { reason: 'the verified package is gone from the store; fetching it again' })
      // Verified earlier, the disk may have changed since: never run what does not verify now.
      if (!justVerified && !await this.checkOnDisk(r, swarm)) return
      await this.run(r, swarm.pkg)
    }
  }

  /** Starts pre-staging; undefined when it cannot start now. */
  private async begin(r: DeploymentRecord): Promise<PackageSwarm | undefined> {
    const start = await this.stager.begin(r.offer.packageId)
    switch (start.kind) {
      case 'transient':
        this.log.warn({ deployment: r.offer.id, err: start.reason }, 'cannot start yet')
        return undefined
      case 'refused':
        await this.set(r, 'failed', { reason: start.reason })
        return undefined
      case 'no-space':
        await this.set(r, 'failed', { reason: start.reason, retryAt: start.retryAt })
        return undefined
    }
    this.watch(start.swarm)
    if (r.state !== 'downloading') await this.set(r, 'downloading')
    this.emit('changed')
    return start.swarm
  }

  /**
   * Frees disk space for `need` more bytes by evicting packages no pending deployment needs.
   * (--cache-max is kept after each step instead, so an older version stays until its
   * chunks have been reused.)
   */
  private async makeRoom(need: number, packageId: string): Promise<boolean> {
    const short = need - await freeBytes(this.init.dataDir)
    if (short <= 0) return true
    const protect = this.neededPackages()
    protect.add(packageId)
    await evictFor(this.init.node, short, protect, this.log)
    return need <= await freeBytes(this.init.dataDir)
  }

  private async keepCacheUnderMax(): Promise<void> {
    const cacheMax = this.init.cacheMaxBytes
    if (cacheMax === undefined) return
    const over = await packagesBytes(this.init.node.store) - cacheMax
    if (over > 0) await evictFor(this.init.node, over, this.neededPackages(), this.log)
  }

  /** Packages of deployments not finished yet. */
  private neededPackages(): Set<string> {
    return new Set([...this.records.values()].filter((r) => !FINAL_STATES.has(r.state)).map((r) => r.offer.packageId))
  }

  private async dropIfUnneeded(packageId: string): Promise<void> {
    const swarm = this.init.node.swarmOf(packageId)
    if (swarm === undefined || swarm.pkg.complete || this.neededPackages().has(packageId)) return
    this.log.info({ packageId }, 'deleting a partial package no deployment needs')
    await this.init.node.drop(packageId)
  }

  /** Re-reads every chunk from disk; bad pieces are marked missing and fetched again. */
  private async checkOnDisk(r: DeploymentRecord, swarm: PackageSwarm): Promise<boolean> {
    const bad = await this.stager.verify(swarm)
    if (bad > 0) await this.refetch(r, bad)
    return bad === 0
  }

  private async refetch(r: DeploymentRecord, bad: number): Promise<void> {
    this.metrics.verificationFailures.inc()
    this.log.warn({ deployment: r.offer.id, pieces: bad }, 'package failed verification on disk: fetching the bad pieces again')
    await this.set(r, 'downloading', { reason: `${bad} piece(s) failed verification on disk; fetching them again`, verifyFailures: r.verifyFailures + 1 })
    this.emit('changed')
  }

  /** Saves `running` first, then runs: a crash mid-run is never followed by a second run. */
  private async run(r: DeploymentRecord, pkg: StoredPackage): Promise<void> {
    const program = pkg.manifest.programs.find((p) => p.name === r.offer.program)
    if (program === undefined) return this.set(r, 'failed', { reason: `the package has no program '${r.offer.program}'` })
    await this.set(r, 'running')
    await touchPackage(this.init.node.store, pkg.packageId, this.now())
    const abort = new AbortController()
    const timeoutSeconds = r.offer.timeoutSeconds
    const result = runProgram({
      command: program.command,
      args: program.args,
      cwd: pkg.root,
      env: { ...process.env, PEERSTAGE_PACKAGE: pkg.manifest.name, PEERSTAGE_VERSION: pkg.manifest.version, PEERSTAGE_DEPLOYMENT: r.offer.id },
      logPath: this.logPathOf(r),
      signal: abort.signal,
      // Real time, whatever clock times the deployments: the program runs on it (as stopGraceMs).
      ...(timeoutSeconds !== undefined && { timeoutMs: timeoutSeconds * 1000 }),
      killGraceMs: this.init.timeoutGraceMs ?? DEFAULT_KILL_GRACE_MS,
      onStarted: (pid) => { r.supervisorPid = pid },
    })
    this.watchProgram(r, result, abort)
    if (r.supervisorPid !== undefined && r.state === 'running') await this.save(r)
  }

  /** Holds the program slot until the program's exit is recorded in the deployment. */
  private watchProgram(r: DeploymentRecord, result: Promise<ProgramResult>, abort: AbortController): void {
    const done = result.then(async (result) => {
      this.metrics.programExits.inc({ code: result.timedOut === true ? 'timeout' : result.startError !== undefined ? 'unstarted' : result.exitCode === null ? 'signal' : String(result.exitCode) })
      const ok = result.exitCode === 0 && result.timedOut !== true
      const reason = ok ? undefined : result.timedOut === true ? `timeout: still running after ${r.offer.timeoutSeconds ?? '?'} s, so the program and its process group were ended`
        : result.startError ?? (result.exitCode === null ? `killed by ${result.signal}` : `exit code ${result.exitCode}`)
      delete r.supervisorPid
      await this.set(r, ok ? 'succeeded' : 'failed', { exitCode: result.exitCode, logTail: result.logTail, ...(reason !== undefined && { reason }) })
    }).catch((err: Error) => this.set(r, 'failed', { reason: `program failed to run: ${err.message}` })).finally(() => {
      this.program = undefined
      if (!this.stopped) void this.tick()
    })
    this.program = { id: r.offer.id, done, abort }
  }

  private watch(swarm: PackageSwarm): void {
    if (this.watched.has(swarm)) return
    this.watched.add(swarm)
    swarm.on('complete', () => { void this.tick() })
    swarm.on('error', (err) => {
      for (const r of this.records.values()) {
        if (r.offer.packageId !== swarm.pkg.packageId || r.state !== 'downloading') continue
        const retryAt = this.stager.retryAfter(err)
        void this.set(r, 'failed', { reason: err.message, ...(retryAt !== undefined && { retryAt }) })
      }
    })
  }

  private async set(r: DeploymentRecord, state: DeploymentState, fields: Partial<Pick<DeploymentRecord, 'reason' | 'exitCode' | 'logTail' | 'verifyFailures' | 'retryAt'>> = {}): Promise<void> {
    const changed = r.state !== state
    r.state = state
    delete r.reason
    delete r.retryAt
    Object.assign(r, fields)
    r.updatedAt = new Date(this.now()).toISOString()
    await this.save(r)
    if (changed) {
      this.log.info({ deployment: r.offer.id, state, reason: r.reason }, 'deployment state')
      this.emit('state', r)
      this.emit('changed')
    }
  }

  private save(r: DeploymentRecord): Promise<void> {
    r.bytes = this.bytesOf(r)
    return saveRecord(this.init.node.store, r)
  }

  private bytesOf(r: DeploymentRecord): ByteSources {
    const before = this.earlierBytes.get(r.offer.id) ?? { lan: 0, wan: 0, reused: 0 }
    const now = this.init.bytes.bytesOf(r.offer.packageId)
    return { lan: before.lan + now.lan, wan: before.wan + now.wan, reused: before.reused + this.init.node.reusedBytesOf(r.offer.packageId) }
  }

  /**
   * The node's problem as this role sees it: a deployment failed for disk space and waiting
   * to try again (only those get a retry time), told as a full disk.
   */
  problem(): NodeProblem | undefined {
    const r = this.list().find((x) => x.state === 'failed' && x.retryAt !== undefined && x.reason !== undefined)
    return r && { code: StoreErrorCodes.DISK_FULL, message: `deployment ${r.offer.id} (${r.offer.name}@${r.offer.version}): ${r.reason}`, since: r.updatedAt }
  }

  /** What the announces carry: the most recently changed deployments. */
  reports(): DeploymentReport[] {
    return this.list().slice(0, MAX_ANNOUNCE_DEPLOYMENTS).map((r) => {
      const pkg = this.init.node.swarmOf(r.offer.packageId)?.pkg
      const total = pkg === undefined ? 0 : totalBytes(pkg.manifest)
      const progress = ['verified', 'running', 'succeeded'].includes(r.state) ? 1 : pkg === undefined || total === 0 ? 0 : pkg.presentBytes / total
      return {
        id: r.offer.id,
        state: r.state,
        progress,
        ...(r.reason !== undefined && { reason: r.reason.slice(0, MAX_REASON_CHARS) }),
        ...(r.exitCode !== undefined && { exitCode: r.exitCode }),
        ...(r.logTail !== undefined && { logTail: r.logTail.slice(-MAX_LOG_TAIL_CHARS) }),
        bytes: this.bytesOf(r),
        verifyFailures: r.verifyFailures,
        updatedAt: r.updatedAt,
      }
    })
  }

  /**
   * One timer at the next moment something falls due (a start, a mandatory time, a retry,
   * an expiry). What is due already but could not go on (the tracker unreachable, another
   * program running) goes on at the next answer or program exit, not in a loop.
   */
  private scheduleWake(): void {
    this.cancelWake?.()
    if (this.stopped) return
    const now = this.now()
    let next = now + MAX_SLEEP_MS
    const due = (t: number): void => { if (t > now && t < next) next = t }
    for (const r of this.records.values()) {
      if (r.state === 'waiting') due(startAt(this.init.node.peerId, r.offer))
      if (r.state === 'verified') due(Date.parse(r.offer.mandatoryAt))
      if (r.retryAt !== undefined) due(r.retryAt)
      if (!FINAL_STATES.has(r.state)) due(expiresAt(r.offer))
    }
    this.cancelWake = this.clock.setTimer(() => { void this.tick() }, next - now)
  }
}
