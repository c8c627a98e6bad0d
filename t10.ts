import { createHost, dialPeer } from './node/host.ts'
import { generateSwarmKeyFile, loadSwarmKey } from './node/swarm-key.ts'
import { rmSync } from 'node:fs'
for (const p of ['/tmp/k1', '/tmp/k2']) { rmSync(p, { force: true }); generateSwarmKeyFile(p) }
const k1 = loadSwarmKey('/tmp/k1'), k2 = loadSwarmKey('/tmp/k2')
const a = await createHost({ swarmKey: k1, listen: ['/ip4/127.0.1.1/tcp/0'] })
const b = await createHost({ swarmKey: k1, listen: ['/ip4/127.0.2.1/tcp/0'], dialFrom: '127.0.2.1' })
const c = await createHost({ swarmKey: k2, listen: ['/ip4/127.0.3.1/tcp/0'], dialFrom: '127.0.3.1' })
const addr = a.getMultiaddrs()[0]!.toString()
console.log('a at', addr)
a.addEventListener('connection:open', (e) => console.log('a sees remote', e.detail.remoteAddr.toString()))
let t = performance.now()
await dialPeer(b, addr)
console.log('b dialed ok', (performance.now() - t).toFixed(0), 'ms; ping', await b.services.ping.ping(a.peerId))
t = performance.now()
try { await dialPeer(c, addr) } catch (e) { console.log('c:', (e as any).code, (e as Error).message, (performance.now() - t).toFixed(0), 'ms'); console.log('cause', String((e as any).cause).slice(0, 300)) }
await Promise.all([a.stop(), b.stop(), c.stop()])
