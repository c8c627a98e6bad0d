import type { Stream } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'
import { FrameGuard } from './frame-guard.ts'
import type { Wire } from './wire-types.ts'

export interface AttachWireOptions {
  /** Largest legal incoming message (bytes after the length prefix). */
  maxMessageBytes: number
  /** Called once when either side ends, with the reason if it failed. */
  onClose?: (err?: Error) => void
}

/**
 * Carries a bittorrent-protocol Wire over a libp2p stream.
 *
 * Outgoing: the wire pushes each message header and payload separately; everything pushed
 * in one tick is joined into one `send`, and when the stream says it is full the wire is
 * paused until it drains. Incoming: every byte passes the FrameGuard first (oversize
 * messages end the stream), then goes straight into the wire's parser.
 */
export function attachWire(stream: Stream, wire: Wire, options: AttachWireOptions): void {
  const guard = new FrameGuard(options.maxMessageBytes)
  let closed = false
  const close = (err?: Error): void => {
    if (closed) return
    closed = true
    if (err) stream.abort(err)
    else void stream.close().catch(() => {})
    wire.destroy()
    options.onClose?.(err)
  }

  // Outgoing, coalesced per tick.
  let pending: Uint8Array[] = []
  let pendingBytes = 0
  let flushQueued = false
  const flush = (): void => {
    flushQueued = false
    if (closed || pendingBytes === 0) return
    const out = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes)
    pending = []
    pendingBytes = 0
    try {
      if (!stream.send(out)) {
        wire.pause()
        stream.onDrain().then(() => { if (!closed) wire.resume() }, (err: Error) => close(err))
      }
    } catch (err) {
      close(err as Error)
    }
  }
  wire.on('data', (chunk: Uint8Array) => {
    pending.push(chunk)
    pendingBytes += chunk.length
    if (!flushQueued) {
      flushQueued = true
      queueMicrotask(flush)
    }
  })

  // Incoming, guarded, with backpressure into yamux.
  stream.addEventListener('message', (evt) => {
    const data = evt.data as Uint8Array | Uint8ArrayList
    const bytes = data instanceof Uint8Array ? data : data.subarray()
    try {
      guard.check(bytes)
    } catch (err) {
      close(err as Error)
      return
    }
    // The wire parses synchronously, so its write() never holds data back; pausing the
    // stream here only piled bytes up below (one multi-MiB read on resume overflowed the
    // pnet cipher's buffer). Memory stays bounded by the yamux window and the FrameGuard.
    wire.write(bytes)
  })
  stream.addEventListener('close', (evt) => close((evt as unknown as { error?: Error }).error))
  stream.addEventListener('remoteCloseWrite', () => close())
  wire.on('error', (err: Error) => close(err))
  wire.on('close', () => close())
}
