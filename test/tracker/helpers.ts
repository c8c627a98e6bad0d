import { generateKeyPairSync } from 'node:crypto'
import { join } from 'node:path'
import { privateKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { generatePublisherKeys, loadPrivateKey, pack, type PackResult, type PublisherKeyFiles } from '../../chunker/index.ts'
import { FakeClock } from '../helpers/fake-clock.ts'
import { writeTree } from '../helpers/packages.ts'
import { pseudoRandomBytes } from '../helpers/tmp.ts'
import { createTrackerConfig, createTrackerServer, MemoryTrackerStore, Tracker, type AnnounceAnswer, type AnnounceRequest, type AnnounceSigner, TrackerClient, type TrackerServerInit, type TrackerStore } from '../../tracker/index.ts'

/** Monday 2026-11-23 07:59:00 UTC (07:59 in London, winter time). */
export const MONDAY_0759 = Date.UTC(2026, 10, 23, 7, 59, 0)

/** Two sites of two subnets each, a DC, the issue's windows on leeds. */
export const CONFIG = {
  adminToken: 'admin-s3cret',
  dpToken: 'dp-s3cret',
  announceIntervalSeconds: 10,
  sites: [
    { name: 'dc', subnets: ['127.0.10.0/24'] },
    {
      name: 'leeds',
      timezone: 'Europe/London',
      subnets: ['127.0.1.0/24', '127.0.2.0/24'],
      wan: { default: 'unlimited', windows: ['Mon-Fri 08:00-18:00 2Mbit/s', 'Sat-Sun unlimited'], maxWanClients: 1 },
    },
    { name: 'york', subnets: ['127.0.3.0/24'], wan: { default: '10MiB/s', maxWanClients: 2 } },
  ],
}

export interface TrackerUnderTest {
  tracker: Tracker
  clock: FakeClock
  store: TrackerStore
}

/** A tracker on a fake clock starting at `startMs` (wall clock), in-memory store unless given. */
export async function trackerAt(startMs = MONDAY_0759, store: TrackerStore = new MemoryTrackerStore(), config: unknown = CONFIG, clock = new FakeClock()): Promise<TrackerUnderTest> {
  const tracker = await Tracker.start(createTrackerConfig(config), { store, clock, now: () => new Date(startMs + clock.nowMs()) })
  return { tracker, clock, store }
}

export const PKG = 'a'.repeat(64)
export const PKG2 = 'b'.repeat(64)

const signers = new Map<string, AnnounceSigner>()

/** A real node identity (an Ed25519 libp2p key): its peer id and what signs its announces. */
export function nodeIdentity(): AnnounceSigner {
  const { privateKey: jwk } = generateKeyPairSync('ed25519', { privateKeyEncoding: { format: 'jwk' } as any, publicKeyEncoding: { format: 'jwk' } as any }) as unknown as { privateKey: { d: string, x: string } }
  const key = privateKeyFromRaw(Buffer.concat([Buffer.from(jwk.d, 'base64url'), Buffer.from(jwk.x, 'base64url')]))
  const signer: AnnounceSigner = { peerId: peerIdFromPrivateKey(key).toString(), sign: (data) => key.sign(data) }
  signers.set(signer.peerId, signer)
  return signer
}

/** A new node's peer id, unique per call (`_role` only names it for the reader); `signerOf` signs its announces. */
export function peerId(_role?: string): string {
  return nodeIdentity().peerId
}

/** The signer of a peer id made by `peerId()` or `nodeIdentity()`. */
export function signerOf(id: string): AnnounceSigner {
  const signer = signers.get(id)
  if (signer === undefined) throw new TypeError(`${id} was not made by peerId(): no key to sign with`)
  return signer
}

/** A TrackerClient whose announces are signed by the key of the body's peer id (made by `peerId()`) unless given another signer. */
export class SigningTrackerClient extends TrackerClient {
  override announce(body: AnnounceRequest, signer: AnnounceSigner = signerOf(body.peerId), now?: () => number): Promise<AnnounceAnswer> {
    return super.announce(body, signer, now)
  }
}

export function announceOf(id: string, role: 'client' | 'dp', have: number, pieces = 10, extra: Partial<AnnounceRequest> = {}, packageId = PKG): AnnounceRequest {
  return { peerId: id, role, addresses: [`/ip4/0.0.0.0/tcp/4001/p2p/${id}`], packages: [{ id: packageId, have, pieces }], ...extra }
}

/** The config of the issue, as users script it. */
export const ISSUE_YAML = `listen: 127.0.10.10:7070
adminToken: s3cret            # guards the admin API and CLI
dpToken: dp-s3cret            # a DP announces with it; DPs are trusted to enforce budgets
sites:
  - name: dc
    subnets: [127.0.10.0/24]
  - name: leeds
    timezone: Europe/London
    subnets: [127.0.1.0/24]
    wan:
      default: unlimited
      windows: ["Mon-Fri 08:00-18:00 2Mbit/s", "Sat-Sun unlimited"]
      maxWanClients: 1
`

/** The site tree of the replication issue, as users script it (the `sites:` key and its entries). */
export const CHAIN_SITES_YAML = `sites:
  - name: hub
    subnets: [127.0.10.0/24]
  - name: region
    subnets: [127.0.1.0/24]
    parent: hub
    link: { default: 50MiB/s, windows: ["Mon-Fri 08:00-18:00 5MiB/s"] }
    replicate: ["win11@*"]
  - name: branch
    subnets: [127.0.2.0/24]
    parent: region
    link: { default: unlimited }
`

/** A small signed package (program `install`) and its publisher's key files, written under dir. */
export async function signedPackage(dir: string, options: { keys?: PublisherKeyFiles, version?: string } = {}): Promise<PackResult & { keys: PublisherKeyFiles }> {
  const keys = options.keys ?? generatePublisherKeys(join(dir, 'keys'))
  const version = options.version ?? '24H2'
  const src = join(dir, `src-${version}`)
  writeTree(src, { 'install.wim': pseudoRandomBytes(200_000, version.length), 'setup.cmd': '@echo off\r\n' })
  const result = await pack(src, { name: 'win11', version, privateKey: loadPrivateKey(keys.privateKeyPath), programs: [{ name: 'install', command: 'setup.cmd', args: ['/unattend'] }] })
  return { ...result, keys }
}

/** CONFIG plus a trusted publisher key file. */
export function trustingConfig(publicKeyPath: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...CONFIG, trust: [publicKeyPath], ...extra }
}

/** Serves a tracker's API on 127.0.10.10, on a port of the system's choosing. */
export async function serveTracker(tracker: Tracker, init: TrackerServerInit = {}): Promise<{ app: ReturnType<typeof createTrackerServer>, url: string }> {
  const app = createTrackerServer(tracker, init)
  await app.listen({ host: '127.0.10.10', port: 0 })
  return { app, url: `http://127.0.10.10:${(app.server.address() as { port: number }).port}` }
}

/**
 * A tracker of `config` (memory store, system clock) served on 127.0.10.10, as a tracker
 * process would be; `stop` closes the server and the tracker (once).
 */
export async function startServedTracker(config: unknown): Promise<{ tracker: Tracker, url: string, stop: () => Promise<void> }> {
  const tracker = await Tracker.start(createTrackerConfig(config), { store: new MemoryTrackerStore() })
  const { app, url } = await serveTracker(tracker)
  let stopped = false
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    await app.close()
    await tracker.stop()
  }
  return { tracker, url, stop }
}
