import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { TokenBucket, type Clock } from '../bandwidth/index.ts'
import { HashPool } from '../chunker/index.ts'
import { silentLogger, type Logger } from '../common/index.ts'
import { TrackerClient, type AnnounceAnswer } from '../tracker/protocol/index.ts'
import { DeploymentClient } from './client/index.ts'
import { createNodeConfig, type ClientInit, type DpInit, type FetcherInit, type NodeInit } from './config.ts'
import { Replicator } from './dp/index.ts'
import { serveMetrics } from './metrics.ts'
import { PeerNode, type PeerNodeInit } from './peer-node.ts'
import { Announcer, ByteCounter, TrackerClock, WanLimits } from './tracker/index.ts'

/** What a role is built from besides its init: tests pass fakes. */
export interface NodeComponents {
  /** A logger per part (`node`, `announcer`, `replication`, `deployments`). @default silent */
  logger?: (module: string) => Logger
  /** Timers of the deployments (the announcer's stay on the system clock). @default the system's */
  clock?: Clock
  /** The wall clock deployments are timed by and records dated with. @default the system's */
  now?: () => Date
  /** The wall clock announces are signed at (the tracker checks it against its own). @default now */
  signAt?: () => Date
  /** The tracker client. @default one for `init.tracker`, from `init.dialFrom` */
  tracker?: TrackerClient
}

/** What every role has: the node, the tracker side when it has a tracker, and a stop. */
export interface NodeService {
  readonly node: PeerNode
  readonly limits: WanLimits
  /** Undefined for a node without a tracker. */
  readonly announcer: Announcer | undefined
  /** `http://HOST:PORT/metrics` when `metricsListen` is set. */
  readonly metricsUrl: string | undefined
  /** First announce (undefined without a tracker); throws when the tracker is unreachable or refuses us. */
  start(): Promise<AnnounceAnswer | undefined>
  /** Stops the role's work, tells the tracker, closes the node. */
  stop(): Promise<void>
}

export interface Dp extends NodeService {
  readonly replicator: Replicator | undefined
}

export interface Client extends NodeService {
  readonly deployments: DeploymentClient
  readonly announcer: Announcer
}

/**
 * A distribution point: seeds its published packages in place after checking them, and
 * with a tracker replicates what its site must hold and keeps the WAN budgets on upload.
 */
export async function createDp(init: DpInit, components: NodeComponents = {}): Promise<Dp> {
  const config = createNodeConfig(init)
  const tracker = trackerOf(config, components)
  const limits = new WanLimits({ role: 'dp', budgets: tracker !== undefined, ...(config.uploadLimitBytesPerSec !== undefined && { uploadCapBytesPerSec: config.uploadLimitBytesPerSec }) })
  const base = await startBase(config, components, tracker, limits, {})
  try {
    const pool = new HashPool()
    try {
      for (const p of config.publish ?? []) await base.node.seed(p.signed, p.source, pool)
    } finally {
      await pool.close()
    }
    const replicator = tracker && await Replicator.start({
      node: base.node, tracker, dataDir: config.dataDir, ...(config.trusted !== undefined && { trusted: config.trusted }),
      ...(components.now && { now: components.now }), logger: logger(components, 'replication'),
    })
    const announcer = tracker && new Announcer({
      ...announcerInit(config, components, base, tracker), role: 'dp',
      reports: { replica: (s) => replicator!.report(s), unheld: () => replicator!.unheld() },
    })
    if (announcer !== undefined && replicator !== undefined) {
      announcer.on('answer', (a) => replicator.onAnswer(a))
      replicator.on('changed', () => announcer.announceNow())
    }
    return {
      ...serviceOf(base, announcer, async () => { await replicator?.stop() }),
      replicator,
    }
  } catch (err) {
    await base.close()
    throw err
  }
}

/**
 * A branch client: resumes what its store holds, learns its deployments from the tracker,
 * pre-stages, verifies and runs them.
 */
export async function createClient(init: ClientInit, components: NodeComponents = {}): Promise<Client> {
  const config = createNodeConfig(init)
  const tracker = trackerOf(config, components)
  if (tracker === undefined) throw new RangeError('tracker must be given: a client learns its deployments from it')
  const limits = new WanLimits({ role: 'client' })
  const base = await startBase(config, components, tracker, limits, {})
  try {
    for (const s of await base.node.openStored()) if (!s.pkg.complete) await base.node.reuseLocalChunks(s.pkg)
    const deployments = await DeploymentClient.start({
      node: base.node, tracker, bytes: base.bytes, dataDir: config.dataDir, trusted: config.trusted,
      ...(config.cacheMaxBytes !== undefined && { cacheMaxBytes: config.cacheMaxBytes }),
      ...(config.stopGraceMs !== undefined && { stopGraceMs: config.stopGraceMs }),
      // Deployments are timed by the tracker's clock, whatever ours says.
      now: () => new Date(base.trackerClock.nowMs()), ...(components.clock && { clock: components.clock }),
      logger: logger(components, 'deployments'),
    })
    const announcer = new Announcer({ ...announcerInit(config, components, base, tracker), role: 'client', reports: { deployments: () => deployments.reports(), problem: () => deployments.problem() } })
    announcer.on('answer', (a) => deployments.onAnswer(a))
    deployments.on('changed', () => announcer.announceNow())
    return { ...serviceOf(base, announcer, () => deployments.stop()), announcer, deployments }
  } catch (err) {
    await base.close()
    throw err
  }
}

/** A node that downloads one package at a time (`peerstage fetch`): from given peers, or from those a tracker hands out under its WAN rules. */
export async function createFetcher(init: FetcherInit, components: NodeComponents = {}): Promise<NodeService> {
  const config = createNodeConfig(init)
  const tracker = trackerOf(config, components)
  const limits = new WanLimits({ role: 'client' })
  const downloadLimiter = config.downloadLimitBytesPerSec === undefined ? undefined : new TokenBucket({ rateBytesPerSec: config.downloadLimitBytesPerSec })
  const base = await startBase(config, components, tracker, limits, { spareSeeds: tracker === undefined, ...(downloadLimiter !== undefined && { downloadLimiter }) })
  const announcer = tracker && new Announcer({ ...announcerInit(config, components, base, tracker), role: 'client' })
  return serviceOf(base, announcer, async () => {})
}

interface Base {
  node: PeerNode
  limits: WanLimits
  bytes: ByteCounter
  metricsUrl: string | undefined
  /** The tracker's time, read from its answers (on the `now` clock). */
  trackerClock: TrackerClock
  close(): Promise<void>
}

/** The tracker client given, or one for `tracker` (URLs, token, CA) from `dialFrom`; undefined without a tracker. */
function trackerOf(config: NodeInit, components: NodeComponents): TrackerClient | undefined {
  return components.tracker ?? (config.tracker && new TrackerClient({ ...config.tracker, ...(config.dialFrom !== undefined && { localAddress: config.dialFrom }) }))
}

/** The node with the tracker's rules built in and its metrics endpoint; `close` also closes the tracker client. */
async function startBase(config: ReturnType<typeof createNodeConfig<NodeInit>>, components: NodeComponents, tracker: TrackerClient | undefined, limits: WanLimits, extra: Partial<PeerNodeInit>): Promise<Base> {
  const node = await PeerNode.start({
    dataDir: config.dataDir, swarmKey: config.swarmKey, listen: config.listen, bulk: config.bulk, bulkPort: config.bulkPort,
    ...(config.dialFrom !== undefined && { dialFrom: config.dialFrom }),
    ...limits.peerLimits, ...extra, logger: logger(components, 'node'),
  })
  let metrics: Server | undefined
  try {
    metrics = config.metricsListen === undefined ? undefined : await serveMetrics(node.metrics.registry, config.metricsListen)
  } catch (err) {
    await node.stop()
    throw err
  }
  const metricsUrl = metrics && `http://${config.metricsListen!.replace(/:\d+$/, '')}:${(metrics.address() as AddressInfo).port}/metrics`
  const close = async (): Promise<void> => {
    tracker?.close()
    metrics?.close()
    await node.stop()
  }
  const localNow = components.now
  const trackerClock = new TrackerClock(localNow === undefined ? Date.now : () => localNow().getTime())
  return { node, limits, bytes: new ByteCounter(limits), metricsUrl, trackerClock, close }
}

function announcerInit(config: ReturnType<typeof createNodeConfig<NodeInit>>, components: NodeComponents, base: Base, tracker: TrackerClient) {
  return {
    tracker, name: config.name, node: base.node, limits: base.limits, bytes: base.bytes,
    retryMs: config.retryMs, budgetWaitSeconds: config.budgetWaitSeconds,
    ...((components.signAt ?? components.now) && { now: (components.signAt ?? components.now)! }),
    trackerClock: base.trackerClock,
    logger: logger(components, 'announcer'),
  }
}

function serviceOf(base: Base, announcer: Announcer | undefined, stopRole: () => Promise<void>): NodeService {
  return {
    node: base.node,
    limits: base.limits,
    announcer,
    metricsUrl: base.metricsUrl,
    start: async () => announcer?.start(),
    async stop() {
      await stopRole()
      await announcer?.stop()
      await base.close()
    },
  }
}

function logger(components: NodeComponents, module: string): Logger {
  return components.logger?.(module) ?? silentLogger()
}
