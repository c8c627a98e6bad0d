import { NodeErrorCodes, nodeError } from '../errors.ts'
import { takeFrame } from '../block-pool.ts'
import { checkHandshake, checkMessage } from './frame-shape.ts'

/** BitTorrent handshake: <pstrlen=19><"BitTorrent protocol"><8 reserved><20 info hash><20 peer id>. */
export const HANDSHAKE_BYTES = 68

/**
 * Follows the framing of incoming wire bytes (the handshake, then `<u32 length><message>`),
 * hands them on in whole frames only, and throws before a peer can make us buffer a message
 * longer than `maxMessageBytes` (bittorrent-protocol itself would wait for, and hold,
 * whatever length a peer claims) or hand the parser a malformed one (frame-shape.ts: an
 * unknown kind, a `have` of 2 bytes, which the parser would read past).
 *
 * Whole frames are passed on as views of the bytes that arrived (runs of them at once); only
 * a frame split across arrivals is copied, once, into a buffer of its exact size from the
 * block pool (node/block-pool.ts: the swarm gives a block's buffer back once it is on disk). So the
 * parser never holds a partial message: bittorrent-protocol joins what it holds to every new
 * arrival, so a 128 KiB block fed to it in pieces was copied once per piece.
 */
export class FrameGuard {
  private inHandshake = true
  /** A frame split across arrivals, being assembled; `have` bytes of it so far. */
  private partial: Uint8Array | undefined
  private partialIsHandshake = false
  private have = 0
  /** A length prefix split across arrivals. */
  private readonly prefix = new Uint8Array(4)
  private prefixHave = 0
  private readonly maxMessageBytes: number

  constructor(maxMessageBytes: number) {
    this.maxMessageBytes = maxMessageBytes
  }

  /** Takes the next bytes that arrived; calls `emit` with whole frames. Throws on an oversize or malformed message (after emitting the whole frames before it). */
  push(data: Uint8Array, emit: (frames: Uint8Array) => void): void {
    let at = 0
    while (at < data.length) {
      if (this.partial !== undefined) {
        const n = Math.min(this.partial.length - this.have, data.length - at)
        this.partial.set(data.subarray(at, at + n), this.have)
        this.have += n
        at += n
        if (this.have === this.partial.length) {
          const whole = this.partial
          this.partial = undefined
          if (this.partialIsHandshake) checkHandshake(whole, 0)
          else checkMessage(whole, 0, whole.length - 4)
          emit(whole)
        }
        continue
      }
      if (this.prefixHave > 0) {
        // Finish a split length prefix, then assemble its frame.
        while (this.prefixHave < 4 && at < data.length) this.prefix[this.prefixHave++] = data[at++]!
        if (this.prefixHave < 4) return
        this.prefixHave = 0
        const frame = takeFrame(4 + this.lengthOf(this.prefix, 0))
        frame.set(this.prefix)
        if (frame.length === 4) emit(frame) // a keep-alive
        else [this.partial, this.have, this.partialIsHandshake] = [frame, 4, false]
        continue
      }
      // At a frame boundary: pass on every whole frame in `data` as one view.
      // A bad frame ends the wire, but the good ones before it go on first: the swarm then
      // knows the peer (its handshake passed) and can strike it.
      let end = at
      let size = 0
      try {
        for (;;) {
          if (this.inHandshake) size = HANDSHAKE_BYTES
          else if (data.length - end < 4) { size = -1; break }
          else size = 4 + this.lengthOf(data, end)
          if (end + size > data.length) break
          if (this.inHandshake) checkHandshake(data, end)
          else if (size > 4) checkMessage(data, end, size - 4)
          end += size
          this.inHandshake = false
        }
      } catch (err) {
        if (end > at) emit(data.subarray(at, end))
        throw err
      }
      if (end > at) emit(data.subarray(at, end))
      at = end
      if (at === data.length) return
      if (size === -1) {
        // A length prefix split across arrivals.
        while (at < data.length) this.prefix[this.prefixHave++] = data[at++]!
        return
      }
      this.partialIsHandshake = this.inHandshake
      this.inHandshake = false
      this.partial = takeFrame(size)
      this.have = 0
    }
  }

  private lengthOf(bytes: Uint8Array, at: number): number {
    const length = ((bytes[at]! << 24) >>> 0) + (bytes[at + 1]! << 16) + (bytes[at + 2]! << 8) + bytes[at + 3]!
    if (length > this.maxMessageBytes) {
      throw nodeError(NodeErrorCodes.WIRE_OVERSIZE, `peer sent a ${length}-byte message; the largest legal one is ${this.maxMessageBytes} bytes`, { details: { length } })
    }
    return length
  }
}
