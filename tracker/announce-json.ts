/**
 * The announce answer as JSON, byte for byte what fastify's serializer of its schema
 * (protocol/schemas.ts `announceAnswer`) writes, in less time. That serializer writes all
 * but the packages; the packages, with every peer handed out, are written here and spliced
 * in. A peer's id and addresses are written once per registration (registry.ts keeps them
 * on the handed-out peer): a node is handed out some thirty times between its announces.
 */
import type { AnnounceAnswer, HandedPeer } from './protocol/index.ts'

/** On a handed-out peer: its `"peerId":…,"addresses":[…]`. */
export const PEER_JSON = Symbol('peer json')
export type WrittenPeer = HandedPeer & { readonly [PEER_JSON]?: string }

export function identityJson(peerId: string, addresses: readonly string[]): string {
  return `"peerId":${JSON.stringify(peerId)},"addresses":${JSON.stringify(addresses)}`
}

const NO_PACKAGES = '"packages":[]'

/** `serialize` is the schema's serializer (the announce route's, for status 200). */
export function announceJson(answer: AnnounceAnswer, serialize: (answer: Record<string, unknown>) => string): string {
  const rest = serialize({ ...answer, packages: [] })
  // The first match is the key: before it come only numbers and strings (subnet, site, the site's subnets), in which a quote is escaped.
  const at = rest.indexOf(NO_PACKAGES)
  let packages = ''
  for (const p of answer.packages) {
    let peers = ''
    for (const peer of p.peers as WrittenPeer[]) {
      if (peers !== '') peers += ','
      // Tiers are names from protocol TIERS, have and pieces integers (the request schema's).
      peers += `{${peer[PEER_JSON] ?? identityJson(peer.peerId, peer.addresses)},"tier":"${peer.tier}","have":${peer.have},"pieces":${peer.pieces}}`
    }
    if (packages !== '') packages += ','
    packages += `{"id":${JSON.stringify(p.id)},"peers":[${peers}],"lease":${JSON.stringify(p.lease)}}`
  }
  return `${rest.slice(0, at)}"packages":[${packages}]${rest.slice(at + NO_PACKAGES.length)}`
}
