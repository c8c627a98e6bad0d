import { createHash } from 'node:crypto'
import type { DeploymentOffer } from '../../tracker/protocol/index.ts'

/**
 * This client's delay after availableAt: in [0, jitterSeconds), fixed by its peer id and
 * the deployment, so a restart keeps it and a site's clients spread their starts.
 */
export function jitterMs(peerId: string, offer: DeploymentOffer): number {
  if (offer.jitterSeconds <= 0) return 0
  const h = createHash('sha256').update(`${peerId} ${offer.id}`).digest().readUInt32BE(0)
  return Math.floor((h / 2 ** 32) * offer.jitterSeconds * 1000)
}

/** When pre-staging starts: availableAt plus jitter, never after mandatoryAt (a late client starts at once). */
export function startAt(peerId: string, offer: DeploymentOffer): number {
  return Math.min(Date.parse(offer.availableAt) + jitterMs(peerId, offer), Date.parse(offer.mandatoryAt))
}

export function expiresAt(offer: DeploymentOffer): number {
  return offer.expiresAt === null ? Infinity : Date.parse(offer.expiresAt)
}
