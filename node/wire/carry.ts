import { FrameGuard } from './frame-guard.ts'
import type { Wire } from './wire-types.ts'

export interface AttachWireOptions {
  /** Largest legal incoming message (bytes after the length prefix). */
  maxMessageBytes: number
  /** Called once when either side ends, with the reason if it failed. */
  onClose?: (err?: Error) => void
}

/** What a byte pipe (a libp2p stream, a TLS socket) offers carry(). */
export interface Carrier {
  /** Sends the parts in order, without joining them; false = full, wait for drained(). */
  send(parts: Uint8Array[]): boolean
  /** Resolves once the pipe takes more after send() said it was full. */
  drained(): Promise<void>
  /** Ends the pipe: gracefully, or at once with `err`. */
  end(err?: Error): void
}

/** The pipe side of a carried wire: the pipe's events go in here. */
export interface Carried {
  /** Bytes that arrived (guarded, then parsed). */
  receive(data: Uint8Array): void
  /** The pipe ended (remote close, error). */
  close(err?: Error): void
}

/**
 * Carries a bittorrent-protocol Wire over a byte pipe.
 *
 * Outgoing: the wire pushes each message header and payload separately; everything pushed
 * in one tick goes into one `send`, as a list (a block is never copied to join it to its
 * header), and when the pipe says it is full the wire is paused until it drains.
 * Incoming: every byte passes the FrameGuard first (oversize or malformed messages are a
 * `violation` on the wire, and end the pipe), which
 * hands the wire's parser whole frames only: a block split across arrivals is copied once,
 * into a buffer of its own that the swarm keeps as it is until the piece is written.
 * The wire parses synchronously, so incoming bytes are never held back here: memory stays
 * bounded by the transport's window and the FrameGuard.
 */
export function carry(carrier: Carrier, wire: Wire, options: AttachWireOptions): Carried {
  const guard = new FrameGuard(options.maxMessageBytes)
  let closed = false
  const close = (err?: Error): void => {
    if (closed) return
    closed = true
    carrier.end(err)
    wire.destroy()
    options.onClose?.(err)
  }

  // Outgoing, coalesced per tick.
  let pending: Uint8Array[] = []
  let flushQueued = false
  const flush = (): void => {
    flushQueued = false
    if (closed || pending.length === 0) return
    const out = pending
    pending = []
    try {
      if (!carrier.send(out)) {
        wire.pause()
        carrier.drained().then(() => { if (!closed) wire.resume() }, (err: Error) => close(err))
      }
    } catch (err) {
      close(err as Error)
    }
  }
  wire.on('data', (chunk: Uint8Array) => {
    if (chunk.length === 0) return
    pending.push(chunk)
    if (!flushQueued) {
      flushQueued = true
      queueMicrotask(flush)
    }
  })
  wire.on('error', (err: Error) => close(err))
  wire.on('close', () => close())

  // Incoming, guarded.
  const write = (frames: Uint8Array): void => {
    if (!closed) wire.write(frames)
  }
  return {
    receive(data) {
      try {
        guard.push(data, write)
      } catch (err) {
        // The swarm strikes the peer (it holds the wire once the handshake passed), then the wire goes.
        if (!closed) wire.emit('violation', err as Error)
        close(err as Error)
      }
    },
    close,
  }
}
