import { closeSync, createWriteStream, fsyncSync, openSync, renameSync, rmSync, statSync, type WriteStream } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { formatBytes } from '../common/index.ts'
import { readBackup, restoreBackup } from '../tracker/index.ts'
import { requireString, usageError, type CommandContext } from './cli.ts'
import { trackerClient } from './tracker-cli.ts'
import { ADMIN_TOKEN, tokenOption } from './tracker-access.ts'

/** The options of `tracker backup` and `tracker restore`, beside the serving tracker's own. */
export const BACKUP_OPTIONS = {
  out: { type: 'string' },
  from: { type: 'string' },
  force: { type: 'boolean' },
  tracker: { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  'tracker-ca': { type: 'string' },
} as const

/** Refuses an option the action does not take: a `--data` given to backup would be silently ignored. */
export function onlyOptions(ctx: CommandContext, action: string, allowed: readonly string[]): void {
  const extra = Object.keys(ctx.values).filter((k) => k !== 'json' && ctx.values[k] !== undefined && !allowed.includes(k))
  if (extra.length > 0) throw usageError(`'tracker${action === '' ? '' : ` ${action}`}' does not take ${extra.map((k) => `--${k}`).join(', ')}`)
}

/**
 * `tracker backup --out FILE --tracker URL --token T`: the running tracker streams its store as
 * it is at one instant (GET /v1/backup); the file is written beside FILE, flushed, read back to
 * its closing line and only then renamed over FILE, so FILE is always a whole backup.
 */
export async function backupAction(ctx: CommandContext): Promise<number> {
  onlyOptions(ctx, 'backup', ['out', 'tracker', 'token', 'token-file', 'tracker-ca'])
  const out = resolve(requireString(ctx, 'out'))
  const client = trackerClient(ctx, tokenOption(ctx, ADMIN_TOKEN, true))
  const tmp = join(dirname(out), `.${basename(out)}.tmp-${process.pid}`)
  let file: WriteStream | undefined
  try {
    try {
      // Mode 0600: it holds every deployment, report and registration of the estate.
      file = createWriteStream(tmp, { flags: 'wx', mode: 0o600 })
      await new Promise<void>((ok, fail) => file!.once('open', () => ok()).once('error', fail))
    } catch (err) {
      throw usageError(`cannot write the backup beside ${out}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
    await client.backup(file)
    const fd = openSync(tmp, 'r+')
    fsyncSync(fd)
    closeSync(fd)
    const { header, records } = await readBackup(tmp)
    let count = 0
    for await (const _ of records) count++
    renameSync(tmp, out)
    const bytes = statSync(out).size
    if (ctx.json) ctx.printJson({ file: out, records: count, bytes, storeFormat: header.storeFormat, writtenBy: header.writtenBy, createdAt: new Date(header.createdAt).toISOString() })
    else ctx.print(`backup of ${client.url.origin} as of ${new Date(header.createdAt).toISOString()}: ${plural(count, 'record')} (${formatBytes(bytes)}, store format ${header.storeFormat}) in ${out}`)
    return 0
  } finally {
    file?.destroy() // a request refused before the stream began leaves it open
    rmSync(tmp, { force: true })
    client.close()
  }
}

/** `tracker restore --from FILE --data DIR [--force]`: offline, into a directory no tracker runs on. */
export async function restoreAction(ctx: CommandContext): Promise<number> {
  onlyOptions(ctx, 'restore', ['from', 'data', 'force'])
  const from = resolve(requireString(ctx, 'from'))
  const dir = resolve(requireString(ctx, 'data'))
  const result = await restoreBackup(from, dir, { force: ctx.values.force === true })
  const createdAt = new Date(result.header.createdAt).toISOString()
  if (ctx.json) ctx.printJson({ dir, records: result.records, storeFormat: result.header.storeFormat, createdAt, ...(result.replacedMovedTo !== undefined && { replacedMovedTo: result.replacedMovedTo }) })
  else {
    ctx.print(`restored ${plural(result.records, 'record')} into ${dir} (backup of ${createdAt} by ${result.header.writtenBy}); start the tracker with --data ${dir}`)
    if (result.replacedMovedTo !== undefined) ctx.print(`what was in ${dir} before is now in ${result.replacedMovedTo}`)
  }
  return 0
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}
