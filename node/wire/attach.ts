import type { Stream } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
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
 * in one tick goes into one `send`, as a list (a block is never copied to join it to its
 * header), and when the stream says it is full the wire is paused until it drains.
 * Incoming: every byte passes the FrameGuard first (oversize messages end the stream), which
 * hands the wire's parser whole frames only: a block split across arrivals is copied once,
 * into a buffer of its own that the swarm keeps as it is until the piece is written.
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
    // Header and block go down as a list, not joined: noise encrypts the parts where they lie.
    // (The stream's own uint8arraylist is another major; lists are recognised by a global symbol.)
    const out = pending.length === 1 ? pending[0]! : new Uint8ArrayList(...pending) as unknown as Uint8Array
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
  const write = (frames: Uint8Array): void => {
    if (!closed) wire.write(frames)
  }
  stream.addEventListener('message', (evt) => {
    const data = evt.data as Uint8Array | Uint8ArrayList
    // The wire parses synchronously, so its write() never holds data back; pausing the
    // stream here only piled bytes up below, to be read in one multi-MiB lump on resume.
    // Memory stays bounded by the yamux window and the FrameGuard.
    try {
      if (data instanceof Uint8Array) guard.push(data, write)
      else for (const part of data) guard.push(part, write)
    } catch (err) {
      close(err as Error)
    }
  })
  stream.addEventListener('close', (evt) => close((evt as unknown as { error?: Error }).error))
  stream.addEventListener('remoteCloseWrite', () => close())
  wire.on('error', (err: Error) => close(err))
  wire.on('close', () => close())
}
