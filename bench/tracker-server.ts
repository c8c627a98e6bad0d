/**
 * Child process of the tracker bench: a real tracker (level store on disk or a Redis URL, fastify API) or,
 * for the reference, a trivial fastify route, listening on HOST. Prints one JSON line
 * `{ "port": N }` when ready; stops on SIGTERM or when its stdin closes (the parent died).
 */
import Fastify from 'fastify'
import { createTrackerConfig, createTrackerServer, LevelTrackerStore, RedisTrackerStore, Tracker } from '../tracker/index.ts'
import { HOST, sitesConfig, type ServerArgs } from './tracker-shape.ts'

const args = JSON.parse(process.argv[2] ?? '{}') as ServerArgs
const closers: Array<() => Promise<void>> = []
let stopping = false

async function shutdown(code: number): Promise<void> {
  if (stopping) return
  stopping = true
  const guard = setTimeout(() => process.exit(code === 0 ? 3 : code), 10_000)
  guard.unref()
  for (const close of closers.reverse()) {
    try {
      await close()
    } catch (err) {
      console.error(`tracker bench server: ${(err as Error).message}`)
    }
  }
  process.exit(code)
}

process.on('SIGTERM', () => void shutdown(0))
process.stdin.on('end', () => void shutdown(0))
process.stdin.resume()

try {
  let app
  if (args.mode === 'tracker') {
    if (args.dir === undefined && args.store === undefined) throw new Error('tracker mode needs dir or store')
    const config = createTrackerConfig({
      adminToken: 'a',
      dpToken: 'd',
      announceIntervalSeconds: 60,
      // Nothing may expire while the bench registers and re-announces (a slow run must not shrink the estate).
      registrationSeconds: 3600,
      leaseSeconds: 3600,
      // Each subnet's clients announce from one source address: the bench measures the tracker, not its limiter.
      rateLimit: { perAddressPerSecond: 0 },
      wan: { default: '10MB/s', windows: ['20:00-06:00 100MB/s'], maxWanClients: 2 },
      sites: sitesConfig(),
    })
    const store = args.store === undefined ? await LevelTrackerStore.open(args.dir!) : await RedisTrackerStore.open(args.store)
    closers.push(() => store.close())
    const tracker = await Tracker.start(config, { store })
    closers.push(() => tracker.stop())
    app = createTrackerServer(tracker)
  } else {
    app = Fastify({ bodyLimit: 1024 * 1024, trustProxy: false })
    app.post('/echo', async (req) => ({ ok: true, packages: (req.body as { packages: unknown[] }).packages.length }))
  }
  closers.push(() => app.close())
  await app.listen({ host: HOST, port: 0 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  process.stdout.write(`${JSON.stringify({ port: address.port })}\n`)
} catch (err) {
  console.error(`tracker bench server failed: ${(err as Error).stack ?? String(err)}`)
  await shutdown(1)
}
