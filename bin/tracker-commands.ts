import { dirname, join, resolve } from 'node:path'
import { createLogger } from '../common/index.ts'
import { createTrackerServer, LevelTrackerStore, readTrackerConfig, Tracker } from '../tracker/index.ts'
import { optionalString, requireString, usageError, type Command } from './cli.ts'
import { untilSignal } from './signals.ts'
import { status, throttle } from './tracker-admin-commands.ts'

export const tracker: Command = {
  name: 'tracker',
  help: `Usage: peerstage tracker --config FILE [--listen HOST:PORT] [--data DIR] [--json]

Serves the tracker's HTTP/JSON API (announce, budgets, status, throttle admin, deployments,
the package catalogue, manifests, /metrics) until SIGINT or SIGTERM. Sites, subnets, WAN
windows, lease limits, each site's parent, link windows and replicate globs, DPs, tokens
and the trusted publisher keys come from the YAML config (see README, "Tracker config");
an invalid config is refused with one message naming the key. State (registrations,
leases, overrides, WAN byte totals, deployments and their clients' reports, the catalogue)
lives in a LevelDB directory, so a restarted tracker resumes where it stopped.

  --config FILE       the YAML config
  --listen HOST:PORT  overrides the config's listen (default 127.0.0.1:7070)
  --data DIR          state directory (default: tracker-data beside the config file)

Exit codes: 0 stopped by a signal; 2 usage, invalid config, the address is in use, or the
--data directory cannot be used (held by another tracker, damaged, read-only, a file).`,
  options: { config: { type: 'string' }, listen: { type: 'string' }, data: { type: 'string' } },
  positionals: 0,
  async run(ctx) {
    const configPath = resolve(requireString(ctx, 'config'))
    const config = readTrackerConfig(configPath)
    const listen = optionalString(ctx, 'listen') ?? config.listen
    const cut = listen.lastIndexOf(':')
    const host = listen.slice(0, cut)
    const port = Number(listen.slice(cut + 1))
    if (cut < 1 || !Number.isInteger(port) || port < 0 || port > 65535) throw usageError(`--listen takes HOST:PORT, got '${listen}'`)
    const dataDir = resolve(optionalString(ctx, 'data') ?? join(dirname(configPath), 'tracker-data'))
    const logger = createLogger({ module: 'tracker', level: process.env.PEERSTAGE_LOG_LEVEL ?? 'warn' })
    const store = await LevelTrackerStore.open(dataDir)
    const t = await Tracker.start(config, { store, logger })
    const app = createTrackerServer(t, { logger })
    try {
      try {
        await app.listen({ host, port })
      } catch (err) {
        throw usageError(`cannot listen on ${listen}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
      }
      const address = app.server.address()
      const url = `http://${host.includes(':') ? `[${host}]` : host}:${typeof address === 'object' && address !== null ? address.port : port}`
      if (ctx.json) process.stdout.write(`${JSON.stringify({ url, data: dataDir, sites: config.sites.map((s) => s.name) })}\n`)
      else ctx.print(`tracker listening on ${url} (state in ${dataDir}; ${config.sites.length} site${config.sites.length === 1 ? '' : 's'})`)
      await untilSignal()
      return 0
    } finally {
      await app.close()
      await t.stop()
      await store.close()
    }
  },
}

/** Every command about the tracker; `throttle` and `status` live apart, so they load without the server. */
export const trackerCommands = [tracker, throttle, status]
