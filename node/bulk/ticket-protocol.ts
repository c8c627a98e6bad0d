import type { Connection, Stream } from '@libp2p/interface'
import { byteStream } from '@libp2p/utils'
import { decodeTicket, encodeTicket, TICKET_BYTES, type Ticket } from './tickets.ts'
import type { BulkServer } from './tls.ts'

/**
 * `/peerstage/bulk/1.0.0`, one exchange per stream: the asker opens the stream and sends
 * nothing; the server answers one ticket (TICKET_BYTES) and closes. A server out of tickets
 * closes with nothing sent.
 */
export const BULK_PROTOCOL = '/peerstage/bulk/1.0.0'

/** Serves the ticket request on a stream whose (noise-authenticated) connection names the asker. */
export async function answerTicket(server: BulkServer, stream: Stream, connection: Connection): Promise<void> {
  const ticket = server.issue(connection.remotePeer.toString())
  if (ticket !== undefined) stream.send(encodeTicket(ticket))
  await stream.close()
}

/** Asks the peer on `connection` for a ticket; throws if it does not speak BULK_PROTOCOL, refuses, or is slow. */
export async function askTicket(connection: Connection, options: { signal: AbortSignal }): Promise<Ticket> {
  const stream = await connection.newStream(BULK_PROTOCOL, options)
  try {
    const bytes = await byteStream(stream).read({ bytes: TICKET_BYTES, ...options })
    return decodeTicket(bytes.subarray())
  } finally {
    void stream.close().catch(() => {})
  }
}
