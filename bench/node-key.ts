/** A node identity for the benches that play many nodes: an Ed25519 key and its libp2p peer id. */
import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey } from '@libp2p/peer-id'

export function nodeKey(): { privateKey: KeyObject, peerId: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  // The raw key is the last 32 bytes of its SPKI DER.
  return { privateKey, peerId: peerIdFromPublicKey(publicKeyFromRaw(publicKey.export({ format: 'der', type: 'spki' }).subarray(-32))).toString() }
}
