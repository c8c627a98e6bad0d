import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import type { Connection, PrivateKey } from '@libp2p/interface'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { existsSync, readFileSync } from 'node:fs'
import { createLibp2p, type Libp2p } from 'libp2p'
import { writeFileAtomic } from '../common/index.ts'
import { NodeErrorCodes, nodeError } from './errors.ts'
import { swarmPrologue } from './swarm-key.ts'

export interface HostInit {
  /** Multiaddrs to listen on. @default ['/ip4/127.0.0.1/tcp/0'] */
  listen?: string[]
  /** Swarm key bytes (loadSwarmKey). */
  swarmKey: Uint8Array
  /**
   * Local IP that outgoing connections leave from. The tracker places a node by the source
   * address it sees, so a host on 127.0.S.H must dial from there too. @default the OS choice
   */
  dialFrom?: string
  /** The node's identity; keep it to keep the peer id across restarts. @default a new one */
  privateKey?: PrivateKey
  /**
   * Called with the remote IP when a peer that dialled us fails the noise handshake: another
   * swarm key, or no peerstage node (for the audit log; libp2p drops the connection itself).
   */
  onInboundHandshakeFailed?: (remoteIp: string, err: Error) => void
}

export type Host = Libp2p<{ identify: ReturnType<ReturnType<typeof identify>>, ping: ReturnType<ReturnType<typeof ping>> }>

/**
 * TCP + noise + yamux + identify + ping: the libp2p node every peerstage process runs.
 *
 * Swarm membership is proved inside noise: both sides mix swarmPrologue(swarm key) into the
 * handshake as its prologue, so with another key (or none) the first authenticated handshake
 * message fails its tag and no connection opens. It replaced @libp2p/pnet, whose XSalsa20
 * (WASM) under noise's own cipher cost about half of a transfer's CPU (README, "The node").
 */
export async function createHost(init: HostInit): Promise<Host> {
  const listen = init.listen ?? ['/ip4/127.0.0.1/tcp/0']
  for (const a of listen) parseMultiaddr(a, 'listen address')
  return createLibp2p({
    ...(init.privateKey !== undefined && { privateKey: init.privateKey }),
    addresses: { listen },
    transports: [tcp(init.dialFrom === undefined ? {} : { dialOpts: { localAddress: init.dialFrom } } as Parameters<typeof tcp>[0])],
    connectionEncrypters: [watchedNoise(swarmPrologue(init.swarmKey), init.onInboundHandshakeFailed)],
    streamMuxers: [yamux()],
    services: { identify: identify(), ping: ping() },
  }) as Promise<Host>
}

/** Noise with the swarm prologue; an inbound handshake that fails is told to `onFailed` before libp2p drops it. */
function watchedNoise(prologueBytes: Uint8Array, onFailed: HostInit['onInboundHandshakeFailed']): ReturnType<typeof noise> {
  const make = noise({ prologueBytes })
  if (onFailed === undefined) return make
  return (components) => {
    const encrypter = make(components)
    const secureInbound = encrypter.secureInbound.bind(encrypter)
    encrypter.secureInbound = async (connection, options) => {
      try {
        return await secureInbound(connection, options)
      } catch (err) {
        const remote = (connection as { remoteAddr?: Multiaddr }).remoteAddr
        const ip = remote?.getComponents().find((c) => c.name === 'ip4' || c.name === 'ip6')?.value ?? remote?.toString() ?? ''
        onFailed(ip, err as Error)
        throw err
      }
    }
    return encrypter
  }
}

export function parseMultiaddr(text: string, what: string): Multiaddr {
  try {
    const ma = multiaddr(text)
    // Printing it must work too: `/unix/` with a lone surrogate parses, then throws URIError wherever it is logged or dialled (found by the fuzzer).
    ma.toString()
    return ma
  } catch (err) {
    throw nodeError(NodeErrorCodes.BAD_ADDRESS, `${what} '${text}' is not a multiaddr (e.g. /ip4/127.0.0.1/tcp/7000): ${(err as Error).message}`, { cause: err })
  }
}

/** The node identity kept at `path` (made on first use), so the peer id survives restarts. */
export async function loadOrCreateIdentity(path: string): Promise<PrivateKey> {
  if (existsSync(path)) return privateKeyFromProtobuf(readFileSync(path))
  const key = await generateKeyPair('Ed25519')
  writeFileAtomic(path, privateKeyToProtobuf(key), 0o600)
  return key
}

/**
 * Dials a peer, turning libp2p's failures into one sentence an operator can act on: above
 * all, a peer with another swarm key fails the noise handshake (stage 1's tag, over the prologue).
 */
export async function dialPeer(host: Host, address: string, options: { signal?: AbortSignal } = {}): Promise<Connection> {
  const ma = parseMultiaddr(address, 'peer address')
  try {
    return await host.dial(ma, options)
  } catch (err) {
    const text = errorText(err)
    if (/decrypt|invalid mac|handshake|unexpected end|encrypt|protocol selection|stream ended/i.test(text)) {
      throw nodeError(NodeErrorCodes.SWARM_KEY_MISMATCH, `could not join ${address}: the connection failed in the handshake that proves swarm membership, so the two sides hold different swarm keys (or it is not a peerstage node)`, { cause: err })
    }
    throw nodeError(NodeErrorCodes.DIAL_FAILED, `could not reach ${address}: ${text}`, { cause: err })
  }
}

function errorText(err: unknown): string {
  const parts: string[] = []
  for (let e: unknown = err; e instanceof Error && parts.length < 5; e = e.cause) parts.push(`${e.name}: ${e.message}`)
  if (err instanceof AggregateError) for (const e of err.errors) parts.push(errorText(e))
  return parts.join('; ')
}
