import { EventEmitter } from 'node:events'
import { backgroundClock, type Clock } from '../../bandwidth/index.ts'
import { isPeerstageError, PEERSTAGE_VERSION, silentLogger, type Logger } from '../../common/index.ts'
import { LAN_TIERS, retryAfterMs, TrackerErrorCodes, MAX_ANNOUNCE_ADDRESSES, MAX_ANNOUNCE_DEPLOYMENTS, MAX_ANNOUNCE_PACKAGES, type AnnounceAnswer, type AnnounceRequest, type BudgetList, type DeploymentReport, type HandedPeer, type NodeProblem, type ReplicaReport, type TrackerClient } from '../../tracker/protocol/index.ts'
import type { PeerNode } from '../peer-node.ts'
import type { PackageSwarm } from '../swarm.ts'
import type { ByteCounter } from './byte-counter.ts'
import { NodeProblems } from './problems.ts'
import type { TrackerClock } from './tracker-clock.ts'
import type { WanLimits } from './wan-limits.ts'

/** What a role adds to every announce, given at construction. */
export interface AnnounceReports {
  /** Client: its deployments' states. */
  deployments?: () => DeploymentReport[]
  /** DP: a package's replication state. */
  replica?: (swarm: PackageSwarm) => ReplicaReport | undefined
  /** DP: packages it must hold but has no swarm for (they failed first), so the tracker shows why. */
  unheld?: () => AnnounceRequest['packages']
  /** What the role itself is kept from (a client's deployment waiting for disk space); the node's own problems come first. */
  problem?: () => NodeProblem | undefined
}

export interface AnnouncerInit {
  tracker: TrackerClient
  role: 'client' | 'dp'
  /** What people call this node (`--name`): sent with every announce. @default none (the tracker shows the peer id alone) */
  name?: string
  node: PeerNode
  limits: WanLimits
  bytes: ByteCounter
  reports?: AnnounceReports
  /** Wait before retrying a failed announce or budget poll, ms. @default 5000 */
  retryMs?: number
  /** Longest wait of one budgets (DP) or changes (client) long-poll, seconds. @default 25 */
  budgetWaitSeconds?: number
  /** The wall clock announces are signed at (the tracker checks it against its own). @default the system's */
  now?: () => Date
  /** Read from each answer's time; announces are signed at the tracker's time by it. @default none: signed at `now` */
  trackerClock?: TrackerClock
  /** Timers and dial back-off. @default backgroundClock (its timers keep no process alive) */
  clock?: Clock
  logger?: Logger
}

/** A peer that failed to dial is not tried again for this long. */
const DIAL_BACKOFF_MS = 30_000
/** WAN peers of an answer are dialled once its LAN peers are (connected or failed), or after this. */
const LAN_FIRST_MS = 1000
/** First wait before asking the tracker again when a package has no useful peer; it doubles up to the announce interval. */
const STARVED_FIRST_MS = 1000
/** A client told of a change announces within this, at random: a deployment for a whole site does not bring every client at once. */
const CHANGE_JITTER_MS = 1000

/**
 * A node's side of the tracker: announces every interval (and at once when a package
 * completes, so its WAN lease moves on), hands each answer to the WAN limits, dials the
 * peers handed out, and long-polls so a change lands at once: a DP the budgets (a window,
 * the catalogue), a client its changes (a deployment created or cancelled for it).
 * `start()` is the first announce; `announceNow()` asks for one soon.
 */
export class Announcer extends EventEmitter<{ answer: [AnnounceAnswer], budgets: [BudgetList], warning: [Error] }> {
  private readonly init: AnnouncerInit
  private readonly log: Logger
  private readonly clock: Clock
  private readonly dialFailedAt = new Map<string, number>()
  /** `PACKAGE PEER` of dials under way: an announce answered meanwhile must not open a second wire. */
  private readonly dialing = new Set<string>()
  private readonly watched = new WeakSet<PackageSwarm>()
  private cancelTimer: (() => void) | undefined
  private announcing: Promise<void> | undefined
  private again = false
  private started = false
  private longPolling = false
  private saidCapped = false
  /** The last announce found no tracker answering. */
  private unanswered = false
  /** Wait before the next announce while some package has no useful peer (0: none starved). */
  private starvedMs = 0
  /** Counts announces: only the latest one's dials time the next. */
  private generation = 0
  private stopped = false
  private readonly polling = new AbortController()
  /** What keeps the node from its work, sent with every announce. */
  private readonly problems: NodeProblems
  /** The tracker's announce interval, from its last answer. */
  intervalSeconds = 30

  constructor(init: AnnouncerInit) {
    super()
    this.init = init
    this.log = init.logger ?? silentLogger()
    this.clock = init.clock ?? backgroundClock
    this.problems = new NodeProblems(init.now)
  }

  /** First announce: throws when the tracker is unreachable or refuses us. */
  async start(): Promise<AnnounceAnswer> {
    this.started = true
    const answer = await this.announceOnce()
    if (!this.longPolling) {
      this.longPolling = true
      // A DP follows the budgets; a client with deployments its changes; a fetch neither.
      if (this.init.role === 'dp') void this.pollBudgets()
      else if (this.init.reports?.deployments !== undefined) void this.pollChanges()
    }
    return answer
  }

  /** Announces now (coalescing with one in flight); nothing before `start()`. */
  announceNow(): void {
    if (this.stopped || !this.started) return
    if (this.announcing !== undefined) {
      this.again = true
      return
    }
    this.announcing = this.announceOnce().then(
      () => undefined,
      (err: Error) => {
        this.trackerFailed(err)
        this.schedule(this.retryWaitMs(err))
      },
    ).finally(() => {
      this.announcing = undefined
      if (this.again) {
        this.again = false
        this.announceNow()
      }
    })
  }

  /** After a failure: retryMs, or longer when the tracker said when to come back (429 Retry-After). */
  private retryWaitMs(err: unknown): number {
    return Math.max(this.init.retryMs ?? 5000, retryAfterMs(err) ?? 0)
  }

  /**
   * No tracker answered: said once until one does. The node keeps swarming on its LAN; a
   * client pulls nothing across the WAN meanwhile (no lease it could renew).
   */
  private trackerFailed(err: Error): void {
    const wait = retryAfterMs(err)
    if (wait !== undefined) this.log.warn({ retryAfterSeconds: wait / 1000 }, 'the tracker asks us to slow down (rate-limited): swarming on the LAN only until it answers')
    else if (!this.unanswered) this.log.warn({ err: err.message }, 'no tracker answers: swarming on the LAN only, and across the WAN again once one does')
    this.unanswered ||= wait === undefined
    this.init.limits.withdrawLeases(this.init.node.allSwarms)
    this.emit('warning', err)
  }

  /** Stops announcing and tells the tracker we are gone, so our leases move on at once. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.cancelTimer?.()
    this.polling.abort()
    await this.announcing
    if (this.started) {
      try {
        await this.send({ ...this.request(), event: 'stopped' })
      } catch (err) {
        this.log.info({ err: (err as Error).message }, 'could not tell the tracker we stopped; our registration will expire')
      }
    }
    this.init.tracker.close()
  }

  /**
   * The announce interval, or sooner while some package has no useful peer: 1 s, then
   * doubling, so a client that started before its peers finds them without waiting a whole
   * interval, and one that truly has none does not hammer the tracker.
   */
  private nextWaitMs(): number {
    const interval = this.intervalSeconds * 1000
    this.starvedMs = this.starving() ? Math.min(interval, this.starvedMs === 0 ? STARVED_FIRST_MS : 2 * this.starvedMs) : 0
    return this.starvedMs === 0 ? interval : this.starvedMs
  }

  /** Some package we still miss pieces of has no peer holding any of them. */
  private starving(): boolean {
    return this.init.node.allSwarms.some((s) => !s.pkg.complete && s.usefulPeerCount === 0)
  }

  private schedule(ms: number): void {
    if (this.stopped) return
    this.generation++
    this.cancelTimer?.()
    this.cancelTimer = this.clock.setTimer(() => this.announceNow(), ms)
  }

  private request(): AnnounceRequest {
    const { node, role, bytes, reports } = this.init
    const packages = node.allSwarms.map((s): AnnounceRequest['packages'][number] => {
      this.watch(s)
      const id = s.pkg.packageId
      const replica = role === 'dp' ? reports?.replica?.(s) : undefined
      return {
        id,
        have: s.pkg.have.count(),
        pieces: s.pkg.pieceCount,
        bytes: { ...bytes.bytesOf(id), reused: node.reusedBytesOf(id) },
        ...(role === 'dp' && { uploaded: bytes.uploadedOf(id) }),
        ...(replica !== undefined && { replica }),
      }
    })
    if (role === 'dp') packages.push(...reports?.unheld?.() ?? [])
    const deployments = reports?.deployments?.().slice(0, MAX_ANNOUNCE_DEPLOYMENTS)
    const problem = this.problems.current(node.allSwarms, reports?.problem?.())
    return {
      peerId: node.peerId, role, ...(this.init.name !== undefined && { name: this.init.name }), version: PEERSTAGE_VERSION, ...(problem !== undefined && { problem }),
      addresses: node.addresses.slice(0, MAX_ANNOUNCE_ADDRESSES), packages: this.withinCap(packages), ...(deployments !== undefined && { deployments }),
    }
  }

  /** The tracker takes MAX_ANNOUNCE_PACKAGES at most: past it, those still incomplete first (they need peers), said once. */
  private withinCap(packages: AnnounceRequest['packages']): AnnounceRequest['packages'] {
    if (packages.length <= MAX_ANNOUNCE_PACKAGES) return packages
    if (!this.saidCapped) this.log.warn({ packages: packages.length, cap: MAX_ANNOUNCE_PACKAGES }, 'more packages than one announce may carry: the complete ones past the cap are not announced')
    this.saidCapped = true
    return [...packages].sort((a, b) => Number(a.have === a.pieces) - Number(b.have === b.pieces)).slice(0, MAX_ANNOUNCE_PACKAGES)
  }

  private watch(swarm: PackageSwarm): void {
    this.init.bytes.watch(swarm)
    this.problems.watch(swarm)
    if (this.watched.has(swarm)) return
    this.watched.add(swarm)
    // Done: tell the tracker now so our lease goes to the next client.
    swarm.on('complete', () => this.announceNow())
  }

  /**
   * Every announce is signed with the node's key, at the tracker's time as the tracker
   * clock has it (else the announcer's wall clock), and each answer is a reading of the
   * tracker's clock. A signature refused as too far from the tracker's clock is signed
   * again once, at the time the refusal carried.
   */
  private async send(body: AnnounceRequest): Promise<AnnounceAnswer> {
    const tc = this.init.trackerClock
    try {
      return await this.sendOnce(body)
    } catch (err) {
      const trackerMs = (err as { details?: { trackerNowMs?: unknown } }).details?.trackerNowMs
      if (tc === undefined || !isPeerstageError(err, TrackerErrorCodes.STALE_SIGNATURE) || typeof trackerMs !== 'number') throw err
      this.log.warn({ offsetMs: trackerMs - tc.localMs() }, 'our clock is far from the tracker\'s: announcing by the tracker\'s time')
      return await this.sendOnce(body)
    }
  }

  private async sendOnce(body: AnnounceRequest): Promise<AnnounceAnswer> {
    const tc = this.init.trackerClock
    const now = this.init.now
    const wallMs = now === undefined ? Date.now : () => now().getTime()
    const signAt = tc === undefined ? wallMs : () => wallMs() + tc.offsetMs
    const sentMs = tc?.localMs() ?? 0
    try {
      const answer = await this.init.tracker.announce(body, this.init.node.signer, signAt)
      // A tracker older than its clock in the answer sends none.
      if (tc !== undefined && typeof answer.now === 'number') tc.sample(sentMs, tc.localMs(), answer.now)
      return answer
    } catch (err) {
      const trackerMs = (err as { details?: { trackerNowMs?: unknown } }).details?.trackerNowMs
      if (tc !== undefined && typeof trackerMs === 'number') tc.sample(sentMs, tc.localMs(), trackerMs)
      throw err
    }
  }

  /** Announces and follows the answer; the next announce is timed once its dials are done, by what they brought. */
  private async announceOnce(): Promise<AnnounceAnswer> {
    const answer = await this.send(this.request())
    if (this.unanswered) this.log.warn('a tracker answers again')
    this.unanswered = false
    this.intervalSeconds = answer.intervalSeconds
    if (answer.budgets !== undefined) this.applyBudgets(answer.budgets)
    const dials = this.follow(answer)
    const generation = ++this.generation
    void Promise.all(dials).then(() => {
      if (generation === this.generation) this.schedule(this.nextWaitMs())
    })
    this.emit('answer', answer)
    return answer
  }

  /**
   * Hands each package's answer to the WAN limits and dials the new peers; returns the dials.
   * LAN peers first: a WAN peer whose wire came up before theirs was asked at once for
   * pieces they hold (a lease holder's first 8 MiB from the DP, while a LAN peer already
   * had them all), so its dial waits until theirs are done, LAN_FIRST_MS at most.
   */
  private follow(answer: AnnounceAnswer): Array<Promise<void>> {
    const { node, limits } = this.init
    limits.followSite(answer.siteSubnets)
    const dials: Array<Promise<void>> = []
    for (const pa of answer.packages) {
      const swarm = node.swarmOf(pa.id)
      if (swarm === undefined) continue
      limits.followAnswer(pa, swarm, answer.site)
      if (swarm.pkg.complete) continue
      const lan: Array<Promise<void>> = []
      const wan: HandedPeer[] = []
      for (const p of pa.peers) {
        if (swarm.hasPeer(p.peerId) || swarm.isBanned(p.peerId) || this.dialing.has(`${pa.id} ${p.peerId}`)) continue
        if (this.clock.nowMs() - (this.dialFailedAt.get(p.peerId) ?? -Infinity) < DIAL_BACKOFF_MS) continue
        if (LAN_TIERS.has(p.tier)) lan.push(this.dial(pa.id, p))
        else wan.push(p)
      }
      if (wan.length === 0) {
        dials.push(...lan)
        continue
      }
      for (const p of wan) this.dialing.add(`${pa.id} ${p.peerId}`) // taken: a later answer must not dial it meanwhile
      const lanDone = lan.length === 0 ? Promise.resolve() : Promise.race([Promise.all(lan), new Promise<void>((resolve) => this.clock.setTimer(resolve, LAN_FIRST_MS))])
      dials.push(...lan, ...wan.map((p) => lanDone.then(() => this.dial(pa.id, p))))
    }
    return dials
  }

  private async dial(packageId: string, peer: HandedPeer): Promise<void> {
    const key = `${packageId} ${peer.peerId}`
    this.dialing.add(key)
    try {
      if (this.stopped) return // a WAN dial that waited for the LAN ones
      for (const address of peer.addresses) {
        try {
          await this.init.node.connect(packageId, address)
          this.dialFailedAt.delete(peer.peerId)
          this.problems.dialWorkedFor(packageId)
          return
        } catch (err) {
          this.log.info({ peer: peer.peerId, address, err: (err as Error).message }, 'dial failed')
          this.problems.dialFailedFor(packageId, err as Error)
        }
      }
      this.dialFailedAt.set(peer.peerId, this.clock.nowMs())
    } finally {
      this.dialing.delete(key)
    }
  }

  private applyBudgets(b: BudgetList): boolean {
    if (!this.init.limits.applyBudgets(b)) return false
    this.log.info({ version: b.version }, 'budgets applied')
    this.emit('budgets', b)
    return true
  }

  /** Client: long-polls its changes; told of one, announces (within CHANGE_JITTER_MS) for what it is. */
  private pollChanges(): Promise<void> {
    let after = 0
    return this.keepPolling('change', async (wait) => {
      const { version, changed } = await this.init.tracker.changes(this.init.node.peerId, after, wait, this.polling.signal)
      after = version
      if (changed) this.clock.setTimer(() => this.announceNow(), Math.random() * CHANGE_JITTER_MS)
    }, (err) => {
      if (!isPeerstageError(err, TrackerErrorCodes.NOT_FOUND)) return true
      this.log.info('the tracker has no change long-poll (an older one): changes arrive with the announces')
      return false
    })
  }

  /** DP: long-polls the budgets so a window edge or an operator's change lands at once. */
  private pollBudgets(): Promise<void> {
    return this.keepPolling('budget', async (wait) => {
      const budgets = await this.init.tracker.budgets(this.init.limits.version, wait, this.polling.signal)
      // The version also moves when the catalogue does: announce now for what to replicate.
      if (this.applyBudgets(budgets)) this.announceNow()
    }, (err) => {
      this.emit('warning', err)
      return true
    })
  }

  /**
   * Runs one long-poll after another (each waiting up to budgetWaitSeconds) until stopped;
   * after a failure, `onFailure` says whether to go on, retryMs later.
   */
  private async keepPolling(what: string, poll: (waitSeconds: number) => Promise<void>, onFailure: (err: Error) => boolean): Promise<void> {
    const wait = this.init.budgetWaitSeconds ?? 25
    while (!this.stopped) {
      try {
        await poll(wait)
      } catch (err) {
        if (this.stopped || !onFailure(err as Error)) return
        this.log.warn({ err: (err as Error).message }, `${what} poll failed`)
        await new Promise<void>((resolve) => this.clock.setTimer(resolve, this.retryWaitMs(err)))
      }
    }
  }
}
