import { dirname, join, resolve } from 'node:path'
import { createLogger } from '../common/index.ts'
import type { Server as HttpsServer } from 'node:https'
import { createTrackerServer, LevelTrackerStore, readTrackerConfig, RedisTrackerStore, shownRedisUrl, storeUrl as checkStoreUrl, TlsReloader, Tracker } from '../tracker/index.ts'
import { optionalString, requireString, usageError, type Command } from './cli.ts'
import { untilSignal } from './signals.ts'
import { backupAction, BACKUP_OPTIONS, onlyOptions, restoreAction } from './tracker-backup-commands.ts'
import { status, throttle } from './tracker-admin-commands.ts'

export const tracker: Command = {
  name: 'tracker',
  help: `Usage: peerstage tracker --config FILE [--listen HOST:PORT] [--data DIR | --store URL] [--json]
       peerstage tracker backup --out FILE --tracker URL (--token T | --token-file FILE) [--tracker-ca FILE] [--json]
       peerstage tracker restore --from FILE --data DIR [--force] [--json]

Serves the tracker's HTTP/JSON API (announce, budgets, status, throttle admin, deployments,
the package catalogue, manifests, /metrics) until SIGINT or SIGTERM. Sites, subnets, WAN
windows, lease limits, each site's parent, link windows and replicate globs, DPs, tokens
and the trusted publisher keys come from the YAML config (README, section "The tracker:
sites, leases, budgets", paragraph "Tracker config");
an invalid config is refused with one message naming the key. State (registrations,
leases, overrides, WAN byte totals, deployments and their clients' reports, the catalogue)
lives in a LevelDB directory, so a restarted tracker resumes where it stopped; or, with
--store (or the config's store:), in Redis/Valkey, where any number of trackers serve the
same estate as replicas behind a load balancer.

  --config FILE       the YAML config
  --listen HOST:PORT  overrides the config's listen (default 127.0.0.1:7070)
  --data DIR          state directory (default: tracker-data beside the config file)
  --store URL         redis://HOST:PORT/DB shared by the replicas; overrides the config's store

With tls: {cert, key} in the config it serves HTTPS only. SIGHUP, or a change of either
file, loads the pair again for new connections (open ones keep theirs); a pair that does not
load is refused with a warning on stderr and the old one stays.

backup: the running tracker (admin token) streams its whole store as it is at one instant;
FILE (mode 0600) is written beside itself, read back to its closing line, then renamed into
place, so FILE is always a whole backup. Works with level and Redis alike.
restore: puts a backup into DIR for a tracker that is not running yet: into a new directory
beside DIR, checked to the backup's last line, then renamed. A DIR holding anything is
refused unless --force, which moves it aside to DIR.before-restore-TIME (never deletes it).

Exit codes: 0 stopped by a signal (backup, restore: done); 2 usage, invalid config, the
address is in use, the --data directory cannot be used (held by another tracker, damaged,
read-only, a file; for restore: not empty without --force), a store or backup of a format
this peerstage does not read, a backup cut short or altered, a wrong token;
1 the --store Redis does not answer (try again once it runs), the tracker is unreachable.`,
  options: { config: { type: 'string' }, listen: { type: 'string' }, data: { type: 'string' }, store: { type: 'string' }, ...BACKUP_OPTIONS },
  positionals: [0, 1],
  async run(ctx) {
    const action = ctx.positionals[0]
    if (action === 'backup') return backupAction(ctx)
    if (action === 'restore') return restoreAction(ctx)
    if (action !== undefined) throw usageError(`unknown action '${action}': give none (serve), backup or restore`)
    onlyOptions(ctx, '', ['config', 'listen', 'data', 'store'])
    const configPath = resolve(requireString(ctx, 'config'))
    const config = readTrackerConfig(configPath)
    const listen = optionalString(ctx, 'listen') ?? config.listen
    const cut = listen.lastIndexOf(':')
    const host = listen.slice(0, cut)
    const port = Number(listen.slice(cut + 1))
    if (cut < 1 || !Number.isInteger(port) || port < 0 || port > 65535) throw usageError(`--listen takes HOST:PORT, got '${listen}'`)
    const storeOption = optionalString(ctx, 'store')
    const storeUrl = storeOption === undefined ? config.store : checkStoreUrl(storeOption, '--store')
    if (storeUrl !== undefined && ctx.values.data !== undefined) throw usageError('--data and a Redis store (--store or the config\'s store:) exclude each other: the state lives in one place')
    const dataDir = resolve(optionalString(ctx, 'data') ?? join(dirname(configPath), 'tracker-data'))
    const logger = createLogger({ module: 'tracker', level: process.env.PEERSTAGE_LOG_LEVEL ?? 'warn', ...(ctx.json && { format: 'json' as const }) })
    const store = storeUrl === undefined ? await LevelTrackerStore.open(dataDir) : await RedisTrackerStore.open(storeUrl)
    const stateIn = storeUrl === undefined ? dataDir : shownRedisUrl(new URL(storeUrl))
    const t = await Tracker.start(config, { store, logger })
    const app = createTrackerServer(t, { logger })
    let reloader: TlsReloader | undefined
    const onHangup = (): void => { reloader?.reload('SIGHUP') }
    try {
      try {
        await app.listen({ host, port })
      } catch (err) {
        throw usageError(`cannot listen on ${listen}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
      }
      const address = app.server.address()
      if (config.tls !== undefined) {
        reloader = new TlsReloader(app.server as unknown as HttpsServer, config.tls, { logger })
        process.on('SIGHUP', onHangup)
      }
      const url = `${config.tls === undefined ? 'http' : 'https'}://${host.includes(':') ? `[${host}]` : host}:${typeof address === 'object' && address !== null ? address.port : port}`
      if (ctx.json) process.stdout.write(`${JSON.stringify({ url, ...(storeUrl === undefined ? { data: dataDir } : { store: stateIn }), sites: config.sites.map((s) => s.name) })}\n`)
      else ctx.print(`tracker listening on ${url} (state in ${stateIn}; ${config.sites.length} site${config.sites.length === 1 ? '' : 's'})`)
      await untilSignal()
      return 0
    } finally {
      process.off('SIGHUP', onHangup)
      reloader?.close()
      await app.close()
      await t.stop()
      await store.close()
    }
  },
}

/** Every command about the tracker; `throttle` and `status` live apart, so they load without the server. */
export const trackerCommands = [tracker, throttle, status]
