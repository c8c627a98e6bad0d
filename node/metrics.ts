import type { Server } from 'node:http'
import { Counter, Gauge, Registry } from 'prom-client'

// As in tracker/protocol/client.ts: no ES import of node:http, whose facade loads undici.
const { createServer } = process.getBuiltinModule('node:http')

/** One registry per node: two nodes in one process never share counters. */
export function createNodeMetrics(registry: Registry = new Registry()) {
  return {
    registry,
    bytes: new Counter({ name: 'peerstage_node_transfer_bytes_total', help: 'Package bytes moved, by direction and peer class (lan: same /24 subnet, wan: other)', labelNames: ['direction', 'class'] as const, registers: [registry] }),
    uploadBySubnet: new Counter({ name: 'peerstage_node_upload_subnet_bytes_total', help: 'Package bytes uploaded, by destination /24 subnet (what a DP sent each branch subnet)', labelNames: ['subnet'] as const, registers: [registry] }),
    localReuseBytes: new Counter({ name: 'peerstage_node_local_reuse_bytes_total', help: 'Bytes copied from chunks already on this node instead of fetched', registers: [registry] }),
    piecesVerified: new Counter({ name: 'peerstage_node_pieces_verified_total', help: 'Pieces received, verified and written', registers: [registry] }),
    piecesFailed: new Counter({ name: 'peerstage_node_pieces_failed_total', help: 'Pieces that failed verification and were discarded', registers: [registry] }),
    peers: new Gauge({ name: 'peerstage_node_peers', help: 'Peers with an open wire, all packages', registers: [registry] }),
    wires: new Counter({ name: 'peerstage_node_wires_total', help: 'Wires opened (handshake done), by what carries them: bulk (TLS beside libp2p) or libp2p (a stream)', labelNames: ['transport'] as const, registers: [registry] }),
    bannedPeers: new Counter({ name: 'peerstage_node_banned_peers_total', help: 'Peers banned for sending bad data', registers: [registry] }),
  }
}

export type NodeMetrics = ReturnType<typeof createNodeMetrics>

/** Serves GET /metrics on `host:port`; resolves once listening. */
export async function serveMetrics(registry: Registry, hostPort: string): Promise<Server> {
  const cut = hostPort.lastIndexOf(':')
  const host = cut === -1 ? '127.0.0.1' : hostPort.slice(0, cut)
  const port = Number(hostPort.slice(cut + 1))
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end()
      return
    }
    registry.metrics().then((text) => {
      res.writeHead(200, { 'content-type': registry.contentType }).end(text)
    }, (err: Error) => res.writeHead(500).end(err.message))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, resolve)
  })
  return server
}
