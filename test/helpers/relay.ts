import { connect, createServer, type AddressInfo } from 'node:net'

/** A TCP relay on `ip` to `to`, keeping every byte that crosses it either way: what a wiretap on the path would see. */
export async function capturingRelay(ip: string, to: { host: string, port: number }): Promise<{ port: number, captured(): Buffer, close(): void }> {
  const chunks: Buffer[] = []
  const relay = createServer((inSocket) => {
    const out = connect(to.port, to.host)
    inSocket.on('data', (d: Buffer) => { chunks.push(d); out.write(d) })
    out.on('data', (d: Buffer) => { chunks.push(d); inSocket.write(d) })
    inSocket.on('close', () => out.destroy())
    out.on('close', () => inSocket.destroy())
  })
  await new Promise<void>((resolve) => relay.listen(0, ip, resolve))
  return { port: (relay.address() as AddressInfo).port, captured: () => Buffer.concat(chunks), close: () => relay.close() }
}
