import { join } from 'node:path'
import { afterEach } from 'vitest'
import { PeerNode, type PeerNodeInit } from '../../node/peer-node.ts'
import { generateSwarmKeyFile, loadSwarmKey } from '../../node/swarm-key.ts'
import { packSample, sampleTree, writeTree } from './packages.ts'
import { pseudoRandomBytes, tempDir } from './tmp.ts'

const nodes: Array<{ stop(): Promise<void> }> = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

/** A role built by createDp, createClient or createFetcher, stopped after the test. */
export async function started<T extends { stop(): Promise<void> }>(service: Promise<T>): Promise<T> {
  const s = await service
  nodes.push(s)
  return s
}

/** The init of a node on 127.0.S.H (site/subnet S, host H): listening and dialling from it. */
export const on = (ip: string): { listen: string[], dialFrom: string } => ({ listen: [`/ip4/${ip}/tcp/0`], dialFrom: ip })

export function newSwarmKey(dir: string): Uint8Array {
  const path = join(dir, 'swarm.key')
  generateSwarmKeyFile(path)
  return loadSwarmKey(path)
}

/** A node on 127.0.S.H (site/subnet S, host H), stopped after the test. */
export async function startNode(dataDir: string, swarmKey: Uint8Array, ip: string, init: Partial<PeerNodeInit> = {}): Promise<PeerNode> {
  const node = await PeerNode.start({ dataDir, swarmKey, listen: [`/ip4/${ip}/tcp/0`], dialFrom: ip, ...init })
  nodes.push(node)
  return node
}

export function untilComplete(node: PeerNode, packageId: string, timeoutMs = 60_000): Promise<void> {
  const swarm = node.swarmOf(packageId)!
  if (swarm.pkg.complete) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not complete after ${timeoutMs} ms: ${swarm.pkg.have.count()}/${swarm.pkg.pieceCount}`)), timeoutMs)
    swarm.once('complete', () => { clearTimeout(timer); resolve() })
    swarm.once('error', (err) => { clearTimeout(timer); reject(err) })
  })
}

/** A swarm key and a DP on 127.0.10.1 seeding the sample tree plus a 2 MB install.esd (a ~5 MB multi-file package). */
export async function dpSeedingSample(dpInit: Partial<PeerNodeInit> = {}) {
  const dir = tempDir()
  const key = newSwarmKey(dir)
  const src = join(dir, 'src')
  sampleTree(src)
  writeTree(src, { 'sources/install.esd': pseudoRandomBytes(2_000_000, 5) })
  const packed = await packSample(src)
  const dp = await startNode(join(dir, 'dp'), key, '127.0.10.1', dpInit)
  await dp.seed(packed, src)
  return { dir, key, src, packed, dp }
}
