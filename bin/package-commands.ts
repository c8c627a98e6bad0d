import { formatBytes, PeerstageError } from '../common/index.ts'
import { TrackerErrorCodes, type CataloguePackage, type TrackerClient } from '../tracker/client-index.ts'
import { usageError, type Command } from './cli.ts'
import { readManifestText } from './deploy-commands.ts'
import { table, trackerClient } from './tracker-cli.ts'
import { ADMIN_TOKEN, tokenOption, trackerAccessOptions } from './tracker-access.ts'

const ACTIONS = ['add', 'list', 'remove']
const PACKAGE_ID = /^[0-9a-f]{64}$/

function describe(p: CataloguePackage): string[] {
  return [
    `package ${p.name}@${p.version}`,
    `  id         ${p.id}`,
    `  publisher  ${p.publisher}`,
    `  size       ${formatBytes(p.bytes)}`,
    `  added      ${p.addedAt}`,
  ]
}

/** A package id, or the id of the one listed package called NAME@VERSION. */
async function packageIdOf(client: TrackerClient, arg: string): Promise<string> {
  if (PACKAGE_ID.test(arg)) return arg
  if (!arg.includes('@')) throw usageError(`remove takes a package id (64 hex digits) or NAME@VERSION, got '${arg}'`)
  const matches = (await client.listPackages()).filter((p) => `${p.name}@${p.version}` === arg)
  if (matches.length === 0) throw new PeerstageError(TrackerErrorCodes.NOT_FOUND, `no package ${arg} in the catalogue (peerstage package list shows them)`)
  if (matches.length > 1) throw usageError(`${arg} names ${matches.length} listed packages (${matches.map((p) => p.id).join(', ')}): give the id`)
  return matches[0]!.id
}

export const packageCommand: Command = {
  name: 'package',
  help: `Usage: peerstage package add MANIFEST --tracker URL --token T [--json]
       peerstage package list --tracker URL [--token T] [--json]
       peerstage package remove ID|NAME@VERSION --tracker URL --token T [--json]

add     lists a signed package in the tracker's catalogue: the DPs of every site whose
        replicate globs match NAME@VERSION (and of every site above one, which relays)
        replicate it from their parent site's DPs, inside the links' windows. The tracker
        refuses a manifest not signed by a publisher in its trust list; adding a listed
        package again changes nothing. deploy create lists its package too.
list    the catalogue, oldest first
remove  unlists it: DPs delete their replicas (a DP publishing it from its sources keeps
        those). Refused while a deployment neither cancelled nor expired names it.

  --token T   the tracker's adminToken (add, remove); list: the viewerToken or adminToken,
              needed when the tracker sets a viewerToken
  --token-file FILE  the token from a file instead (ps shows --token); or PEERSTAGE_TOKEN
  --tracker-ca FILE  PEM CA (or self-signed) certificate of an https:// tracker

Exit codes: 0 done; 1 tracker unreachable; 2 usage, bad token, unknown package, a package
still deployed, invalid or untrusted manifest.`,
  options: { tracker: { type: 'string' }, ...trackerAccessOptions(ADMIN_TOKEN) },
  positionals: [1, 2],
  async run(ctx) {
    const [action, arg] = ctx.positionals
    if (!ACTIONS.includes(action!)) throw usageError(`unknown action '${action}': use add, list or remove`)
    if (action === 'list' && arg !== undefined) throw usageError(`list takes no argument, got '${arg}'`)
    if (action === 'add' && arg === undefined) throw usageError('add needs the signed manifest file peerstage pack wrote')
    if (action === 'remove' && arg === undefined) throw usageError('remove needs the package id or NAME@VERSION (peerstage package list shows them)')
    const manifest = action === 'add' ? readManifestText(arg!) : undefined
    const client = trackerClient(ctx, tokenOption(ctx, ADMIN_TOKEN, action !== 'list'))
    try {
      if (action === 'list') {
        const list = await client.listPackages()
        if (ctx.json) ctx.printJson({ packages: list })
        else if (list.length === 0) ctx.print('no packages in the catalogue')
        else for (const line of table([['ID', 'PACKAGE', 'SIZE', 'ADDED'], ...list.map((p) => [p.id, `${p.name}@${p.version}`, formatBytes(p.bytes), p.addedAt])])) ctx.print(line)
      } else if (action === 'add') {
        const p = await client.addPackage(manifest!)
        if (ctx.json) ctx.printJson(p)
        else for (const line of describe(p)) ctx.print(line)
      } else {
        const p = await client.removePackage(await packageIdOf(client, arg!))
        if (ctx.json) ctx.printJson(p)
        else ctx.print(`removed ${p.name}@${p.version} (${p.id}) from the catalogue: DPs delete their replicas`)
      }
      return 0
    } finally {
      client.close()
    }
  },
}

export const packageCommands = [packageCommand]
