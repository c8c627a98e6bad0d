import { identityJson, PEER_JSON, type WrittenPeer } from './announce-json.ts'
import type { HandedPeer, NodeProblem, ReplicaReport, Tier } from './protocol/index.ts'

/** What a node told the tracker at its last announce, and where the tracker placed it. */
export interface Registration {
  peerId: string
  role: 'client' | 'dp'
  /** As the node announced them (`--name`, its peerstage version); an older node sends neither. */
  name?: string
  version?: string
  /** What keeps the node from its work, as its last announce said; absent when nothing does. */
  problem?: NodeProblem
  /** The tracker's clock at its last announce, ms (registrations saved before it existed have none). */
  seenAt?: number
  /** Source address of the announce: the tracker's, never the node's own claim. */
  ip: string
  subnet: string
  site: string | undefined
  addresses: string[]
  /** Package id → pieces held of pieces in all; DPs: the package's replication state there. */
  packages: Record<string, { have: number, pieces: number, replica?: ReplicaReport }>
  /** Cumulative byte counters last reported, per package, to turn reports into deltas. */
  counters: Record<string, Record<string, number>>
  expiresAt: number
  /** When the registration was last written to the store, and what it said then. */
  savedAt?: number
  signature?: string
}

/** A registration's last announce, ms: saved with it, or (saved before that field) its expiry less its length. */
export function lastSeenOf(reg: Registration, registrationSeconds: number): number {
  return reg.seenAt ?? reg.expiresAt - registrationSeconds * 1000
}

/** A node that left: its registration as it last was, and how it left. */
export interface Departure {
  reg: Registration
  /** The tracker's clock at its last announce, ms. */
  lastSeenAt: number
  /** It said it was stopping (`event: stopped`), rather than falling silent. */
  stopped: boolean
}

/** Departed nodes remembered for `status` and `deploy show`: the most recent this many, */
const MAX_DEPARTED = 100_000
/** for at most this long after their last announce. */
const DEPARTED_KEEP_MS = 7 * 24 * 3600 * 1000

/** Candidates examined per tier: at least this many, */
const SAMPLE_MIN = 64
/** or this many per place to fill. */
const SAMPLE_FACTOR = 2

/** One node's standing for one package, as the index keeps it. */
interface Holding {
  reg: Registration
  have: number
  pieces: number
  /** The node's id and addresses as the answer writes them, once it is first handed out. */
  json?: string
}

/**
 * Up to `n` holdings of these subnets', in order, each subnet's longest since it announced
 * first. Tiers are sampled from arrays: one `for…of` over both Map and array iterators
 * went generic, a third of the scan's cost.
 */
function oldest(subnets: ReadonlyArray<ReadonlyMap<string, Holding> | undefined>, n: number): Holding[] {
  const out: Holding[] = []
  for (const peers of subnets) {
    if (peers === undefined) continue
    for (const h of peers.values()) {
      if (out.length === n) return out
      out.push(h)
    }
  }
  return out
}

/** Peers handed out for one package: each tier appended nearest first, no node twice, never the asker. */
class Handout {
  readonly peers: WrittenPeer[] = []
  private readonly asker: Registration
  /**
   * By holding, not registration or peer id: a node's one holding per package sits in every
   * index of it, and with 100k nodes each object read is a cache miss: a tier's scan reads
   * its candidates' holdings only.
   */
  private readonly taken = new Set<Holding>()
  private readonly max: number

  constructor(asker: Registration, max: number) {
    this.asker = asker
    this.max = max
  }

  /**
   * Candidates the next tier examines: a large tier is sampled, its first max(SAMPLE_MIN,
   * SAMPLE_FACTOR × places left), those that announced longest ago (announcing moves a node
   * to the end): the sample rotates.
   */
  get sampleSize(): number {
    return Math.max(SAMPLE_MIN, SAMPLE_FACTOR * (this.max - this.peers.length))
  }

  /** Those holding more first, ties in random order. */
  add(candidates: readonly Holding[], tier: Tier): void {
    const room = this.max - this.peers.length
    if (room <= 0) return
    // The best `room` are kept by insertion, key descending: sorting the whole sample with a comparator cost twice as much.
    const keys: number[] = []
    const best: Holding[] = []
    const n = Math.min(candidates.length, this.sampleSize)
    for (let c = 0; c < n; c++) {
      const h = candidates[c]!
      if (h.reg === this.asker || this.taken.has(h)) continue
      const key = h.have + Math.random() * 0.5
      let i = best.length
      if (i === room) {
        if (key <= keys[i - 1]!) continue
        i-- // the last one kept drops out
      }
      for (; i > 0 && keys[i - 1]! < key; i--) {
        keys[i] = keys[i - 1]!
        best[i] = best[i - 1]!
      }
      keys[i] = key
      best[i] = h
    }
    for (const h of best) {
      this.taken.add(h)
      h.json ??= identityJson(h.reg.peerId, h.reg.addresses)
      this.peers.push({ peerId: h.reg.peerId, addresses: h.reg.addresses, tier, have: h.have, pieces: h.pieces, [PEER_JSON]: h.json })
    }
  }
}

export interface ClientPeerOptions {
  max: number
  /** Whether the asker may pull across the WAN now (it holds a lease): DPs are handed only then. */
  wan: boolean
  siteSubnets: readonly string[]
  servesSite: (dp: string, site: string) => boolean
  /** The asker's site's ancestors, parent first: their DPs come before every other DP. */
  upstreamSites: readonly string[]
}

/**
 * Registered nodes, indexed by package and subnet so handing out peers costs the size of
 * the asker's neighbourhood, not of the estate.
 */
export class Registry {
  private readonly byId = new Map<string, Registration>()
  /** package → subnet → peer id → holding. Re-announcing moves a node to the end. */
  private readonly byPackage = new Map<string, Map<string, Map<string, Holding>>>()
  /** package → DP peer id → holding. */
  private readonly dpsByPackage = new Map<string, Map<string, Holding>>()
  /** Registered DPs: a few among many clients. */
  private readonly dpRegs = new Map<string, Registration>()
  /** Nodes that stopped announcing, in the order they left; one that announces again leaves it. */
  private readonly gone = new Map<string, Departure>()

  get size(): number {
    return this.byId.size
  }

  get(peerId: string): Registration | undefined {
    return this.byId.get(peerId)
  }

  all(): IterableIterator<Registration> {
    return this.byId.values()
  }

  /** The registered DPs, oldest registration first. */
  dps(): IterableIterator<Registration> {
    return this.dpRegs.values()
  }

  /** A node no longer registered that the tracker still remembers (status shows it offline). */
  departed(peerId: string): Departure | undefined {
    return this.gone.get(peerId)
  }

  /** Departed nodes, oldest departure first. */
  departures(): IterableIterator<Departure> {
    return this.gone.values()
  }

  /**
   * Remembers a node that left (silent past its registration, or stopped), bounded in count
   * and age: an estate whose branch PCs go off every night still shows when each was last seen.
   */
  depart(reg: Registration, lastSeenAt: number, stopped: boolean): void {
    this.gone.delete(reg.peerId)
    this.gone.set(reg.peerId, { reg, lastSeenAt, stopped })
    if (this.gone.size > MAX_DEPARTED) this.gone.delete(this.gone.keys().next().value!)
  }

  /** Forgets departures older than DEPARTED_KEEP_MS at `now` (they left in order, so from the head). */
  pruneDeparted(now: number): void {
    for (const [id, d] of this.gone) {
      if (now - d.lastSeenAt < DEPARTED_KEEP_MS) break
      this.gone.delete(id)
    }
  }

  /** Replaces the node's registration and its index entries. */
  put(reg: Registration): void {
    this.gone.delete(reg.peerId)
    const old = this.byId.get(reg.peerId)
    if (old !== undefined) this.unindex(old)
    this.byId.set(reg.peerId, reg)
    if (reg.role === 'dp') this.dpRegs.set(reg.peerId, reg)
    for (const [id, p] of Object.entries(reg.packages)) {
      const holding = { reg, have: p.have, pieces: p.pieces }
      let subnets = this.byPackage.get(id)
      if (subnets === undefined) this.byPackage.set(id, subnets = new Map())
      let peers = subnets.get(reg.subnet)
      if (peers === undefined) subnets.set(reg.subnet, peers = new Map())
      peers.set(reg.peerId, holding)
      if (reg.role === 'dp') {
        let dps = this.dpsByPackage.get(id)
        if (dps === undefined) this.dpsByPackage.set(id, dps = new Map())
        dps.set(reg.peerId, holding)
      }
    }
  }

  remove(peerId: string): Registration | undefined {
    const reg = this.byId.get(peerId)
    if (reg === undefined) return undefined
    this.unindex(reg)
    this.byId.delete(peerId)
    return reg
  }

  /** Registrations expired at `now`, removed. */
  expire(now: number): Registration[] {
    const gone: Registration[] = []
    for (const reg of this.byId.values()) if (reg.expiresAt <= now) gone.push(reg)
    for (const reg of gone) this.remove(reg.peerId)
    return gone
  }

  /**
   * Peers for a client and one package, nearest first: same subnet, same site (the site's
   * DPs among them), then only when `wan`: DPs serving the site, DPs of the ancestor sites
   * (parent first), every other DP. Within a tier those holding more first, ties in random
   * order. Never the asker (its registration in force: the one just put); never a client
   * of another site.
   */
  peersFor(asker: Registration, packageId: string, options: ClientPeerOptions): HandedPeer[] {
    const out = new Handout(asker, options.max)
    const subnets = this.byPackage.get(packageId)
    if (subnets !== undefined) {
      out.add(oldest([subnets.get(asker.subnet)], out.sampleSize), 'subnet')
      if (asker.site !== undefined) out.add(oldest(options.siteSubnets.filter((s) => s !== asker.subnet).map((s) => subnets.get(s)), out.sampleSize), 'site')
    }
    if (options.wan) {
      const dps = this.dpsHolding(packageId)
      if (asker.site !== undefined) out.add(dps.filter((h) => options.servesSite(h.reg.peerId, asker.site!)), 'dp')
      for (const site of options.upstreamSites) out.add(dps.filter((h) => h.reg.site === site), 'upstream-dp')
      out.add(dps, 'remote-dp')
    }
    return out.peers
  }

  /**
   * Peers for a DP replicating a package: DPs holding or still fetching it (those holding
   * more first), its own site's first (`subnet` on its subnet, else `site`), then its parent
   * site's (`parent-dp`). A DP with nothing yet is handed out too: pieces then flow down the
   * chain as they arrive, not after the next announce says there are some (two 32 MiB/s
   * links: the branch lagged the region by two announce intervals, 2 s at 1 s). Never a
   * client, never another site's DP: replication never skips a level. A DP in no configured
   * site gets the DPs of its own subnet.
   */
  dpPeersFor(asker: Registration, packageId: string, options: { max: number, parentSite: string | undefined }): HandedPeer[] {
    const out = new Handout(asker, options.max)
    const dps = this.dpsOf(packageId)
    const own = dps.filter((h) => (asker.site === undefined ? h.reg.site === undefined && h.reg.subnet === asker.subnet : h.reg.site === asker.site))
    out.add(own.filter((h) => h.reg.subnet === asker.subnet), 'subnet')
    out.add(own.filter((h) => h.reg.subnet !== asker.subnet), 'site')
    if (options.parentSite !== undefined) out.add(dps.filter((h) => h.reg.site === options.parentSite), 'parent-dp')
    return out.peers
  }

  /** Whether a DP of `site` holds the whole package: its clients then need no WAN at all. */
  siteDpHolds(site: string | undefined, packageId: string): boolean {
    if (site === undefined) return false
    for (const h of this.dpsByPackage.get(packageId)?.values() ?? []) if (h.reg.site === site && h.have === h.pieces) return true
    return false
  }

  /** DPs holding at least one piece of the package. */
  /** DPs that announced the package, whether they hold any of it yet or not. */
  private dpsOf(packageId: string): Holding[] {
    return [...(this.dpsByPackage.get(packageId)?.values() ?? [])]
  }

  private dpsHolding(packageId: string): Holding[] {
    return this.dpsOf(packageId).filter((h) => h.have > 0)
  }

  private unindex(reg: Registration): void {
    if (this.dpRegs.get(reg.peerId) === reg) this.dpRegs.delete(reg.peerId)
    for (const id of Object.keys(reg.packages)) {
      const subnets = this.byPackage.get(id)
      const peers = subnets?.get(reg.subnet)
      peers?.delete(reg.peerId)
      if (peers?.size === 0) subnets!.delete(reg.subnet)
      if (subnets?.size === 0) this.byPackage.delete(id)
      const dps = this.dpsByPackage.get(id)
      dps?.delete(reg.peerId)
      if (dps?.size === 0) this.dpsByPackage.delete(id)
    }
  }
}

/** Everything of a registration but its expiry, as one string to compare. */
export function signatureOf(reg: Registration): string {
  let s = `${reg.role}|${reg.ip}|${reg.addresses.join(' ')}|${reg.name ?? ''}|${reg.version ?? ''}|${reg.problem === undefined ? '' : `${reg.problem.code} ${reg.problem.message}`}`
  for (const [id, p] of Object.entries(reg.packages)) {
    s += `|${id}:${p.have}/${p.pieces}`
    if (p.replica !== undefined) s += `~${JSON.stringify(p.replica)}`
  }
  for (const [id, c] of Object.entries(reg.counters)) for (const [k, v] of Object.entries(c)) s += `|${id}.${k}=${v}`
  return s
}
