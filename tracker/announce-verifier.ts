import { createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import { announcePayload, MAX_SIGNATURE_SKEW_MS, SIGNATURE_HEADER, TrackerErrorCodes, trackerError } from './protocol/index.ts'

/**
 * Checks announce signatures and remembers, per peer, its public key (parsed once) and
 * its last signed time — only as long as a replay of that time could still pass the skew
 * check, so memory stays bounded by the peers that announced within MAX_SIGNATURE_SKEW_MS.
 */
export class AnnounceVerifier {
  private readonly peers = new Map<string, { key: KeyObject, lastAt: number }>()
  private lastPrune = 0

  /** Resolves when `header` is `peerId`'s fresh signature of `body`; throws BAD_SIGNATURE or STALE_SIGNATURE. */
  verify(peerId: string, body: string, header: string | string[] | undefined, nowMs: number): void {
    const m = typeof header === 'string' ? /^(\d{1,16})\.([A-Za-z0-9_-]{1,200})$/.exec(header) : null
    if (m === null) throw trackerError(TrackerErrorCodes.BAD_SIGNATURE, `an announce must be signed by the node's key ('${SIGNATURE_HEADER}: TIME.SIGNATURE'); this one ${header === undefined ? 'is not' : 'has a malformed signature'}`)
    const at = Number(m[1])
    const known = this.peers.get(peerId)
    const key = known?.key ?? publicKeyOf(peerId)
    if (!cryptoVerify(null, announcePayload(at, body), key, Buffer.from(m[2]!, 'base64url'))) {
      throw trackerError(TrackerErrorCodes.BAD_SIGNATURE, `the announce's signature does not verify with ${peerId}'s key`)
    }
    if (Math.abs(at - nowMs) > MAX_SIGNATURE_SKEW_MS) {
      throw trackerError(TrackerErrorCodes.STALE_SIGNATURE, `the announce was signed at ${timeText(at)}, more than ${MAX_SIGNATURE_SKEW_MS / 1000} s from the tracker's clock (${timeText(nowMs)}): check both clocks`)
    }
    if (known !== undefined && at <= known.lastAt) {
      throw trackerError(TrackerErrorCodes.STALE_SIGNATURE, `the announce's time ${at} is not after ${peerId}'s last (${known.lastAt}): a replay`)
    }
    this.peers.set(peerId, { key, lastAt: at })
    this.prune(nowMs)
  }

  private prune(nowMs: number): void {
    if (nowMs - this.lastPrune < MAX_SIGNATURE_SKEW_MS) return
    this.lastPrune = nowMs
    for (const [peer, { lastAt }] of this.peers) if (lastAt < nowMs - MAX_SIGNATURE_SKEW_MS) this.peers.delete(peer)
  }
}

/** The Ed25519 public key a peer id carries, as a node:crypto key (parsing it costs as much as a verify: done once per peer). */
function publicKeyOf(peerId: string): KeyObject {
  let key
  try {
    key = peerIdFromString(peerId).publicKey
  } catch {
    key = undefined
  }
  if (key?.type !== 'Ed25519') throw trackerError(TrackerErrorCodes.BAD_SIGNATURE, `peer id ${peerId} is not an Ed25519 public key (a libp2p peer id of a node's key): it cannot sign`)
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(key.raw).toString('base64url') }, format: 'jwk' })
}

/** An ISO time, or the milliseconds as given when no date holds them (16 digits reach past year 275760: toISOString would throw). */
function timeText(ms: number): string {
  const date = new Date(ms)
  return Number.isNaN(date.getTime()) ? `${ms} ms after 1970` : date.toISOString()
}
