/**
 * node: the data plane. So far: the libp2p host (TCP, private-network swarm key, noise,
 * yamux, identify, ping), the swarm key file, and the BitTorrent wire carried on a libp2p
 * stream with framing guards, coalesced sends and backpressure both ways.
 */
export { createHost, dialPeer, loadOrCreateIdentity, parseMultiaddr, type Host, type HostInit } from './host.ts'
export { generateSwarmKeyFile, loadSwarmKey } from './swarm-key.ts'
export { NodeErrorCodes, type NodeErrorCode } from './errors.ts'
export * as wire from './wire/index.ts'
