/**
 * bulk: the channel the BitTorrent wire's bytes take beside libp2p. libp2p (noise bound to the
 * swarm key) stays the identity, discovery and control plane; over it a node asks a peer for a
 * ticket (BULK_PROTOCOL): a one-use 16-byte identity and 32-byte secret, good for ~10 s and
 * remembered with the asker's peer id. The asker then opens TLS 1.3 with that external PSK
 * (psk_dhe_ke: X25519 too, so forward secret; AES-128-GCM, else ChaCha20) to the peer's bulk
 * port. Per GiB this costs a third of noise + yamux's CPU (bench/transport.ts): one native
 * TLS record layer instead of noise's and yamux's per-frame buffers.
 *
 * Only a swarm member can get a ticket (noise fails first without the key), and a ticket is
 * only good once, for the peer it was given to, so the accepted socket's peer is that id.
 */
export { BULK_PROTOCOL, askTicket, answerTicket } from './ticket-protocol.ts'
export { BULK_CIPHERS, BulkServer, bulkConnect, type BulkConnectInit, type BulkServerInit } from './tls.ts'
export { decodeTicket, encodeTicket, TICKET_BYTES, TicketBook, type Ticket, type TicketBookInit } from './tickets.ts'
