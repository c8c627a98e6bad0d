import type { Stream } from '@libp2p/interface'
import type { Socket } from 'node:net'
import { Uint8ArrayList } from 'uint8arraylist'
import { giveBackFrames } from '../block-pool.ts'
import { carry, type AttachWireOptions } from './carry.ts'
import type { Wire } from './wire-types.ts'

export type { AttachWireOptions } from './carry.ts'

/** Carries a Wire over a libp2p stream (noise + yamux below it): see carry(). */
export function attachWire(stream: Stream, wire: Wire, options: AttachWireOptions): void {
  const carried = carry({
    // Header and block go down as a list, not joined: noise encrypts the parts where they lie.
    // (The stream's own uint8arraylist is another major; lists are recognised by a global symbol.)
    send: (parts) => stream.send(parts.length === 1 ? parts[0]! : new Uint8ArrayList(...parts) as unknown as Uint8Array),
    drained: () => stream.onDrain(),
    end: (err) => {
      if (err) stream.abort(err)
      else void stream.close().catch(() => {})
    },
  }, wire, options)
  stream.addEventListener('message', (evt) => {
    const data = evt.data as Uint8Array | Uint8ArrayList
    if (data instanceof Uint8Array) carried.receive(data)
    else for (const part of data) carried.receive(part)
  })
  stream.addEventListener('close', (evt) => carried.close((evt as unknown as { error?: Error }).error))
  stream.addEventListener('remoteCloseWrite', () => carried.close())
}

/**
 * Carries a Wire over a connected socket (the bulk channel's TLS socket): see carry().
 * What the wire pushed in one tick goes down corked, as one writev (not a write per part,
 * which would seal a 13-byte header as a TLS record of its own); write()'s false pauses the
 * wire until 'drain'. Once the socket has taken them, the blocks among the parts go back to
 * the block pool (only the buffers it made are kept).
 */
export function attachWireToSocket(socket: Socket, wire: Wire, options: AttachWireOptions): void {
  const carried = carry({
    send: (parts) => {
      socket.cork()
      let more = true
      for (let i = 0; i < parts.length - 1; i++) more = socket.write(parts[i]!)
      more = socket.write(parts[parts.length - 1]!, () => giveBackFrames(parts)) // written in order: the last is taken after the others
      socket.uncork()
      return more
    },
    drained: () => new Promise((resolve, reject) => {
      const onDrain = (): void => { socket.off('close', onClose); resolve() }
      const onClose = (): void => { socket.off('drain', onDrain); reject(new Error('socket closed before it drained')) }
      socket.once('drain', onDrain).once('close', onClose)
    }),
    end: (err) => {
      if (err) return void socket.destroy()
      socket.end()
      // A peer that never ends its side. A raw timer, not a Clock: it releases a real socket,
      // so it must fire on real time even under a test's stopped clock; unref'd, it keeps no process up.
      setTimeout(() => socket.destroy(), 5000).unref()
    },
  }, wire, options)
  socket.on('data', (data: Buffer) => carried.receive(data))
  socket.on('end', () => carried.close())
  socket.on('error', (err) => carried.close(err))
  socket.on('close', () => carried.close())
}
