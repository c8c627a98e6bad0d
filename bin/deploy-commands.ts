import { readFileSync } from 'node:fs'
import { formatBytes, PeerstageError } from '../common/index.ts'
import { MAX_JITTER_SECONDS, MAX_PROGRAM_TIMEOUT_SECONDS, parseIsoTime, type Deployment, type DeploymentInput, type DeploymentStatus, type SubnetProgress } from '../tracker/client-index.ts'
import { optionalString, requireString, stringList, usageError, type Command, type CommandContext } from './cli.ts'
import { countsText, presenceText, problemText, trackerClient } from './tracker-cli.ts'
import { ADMIN_TOKEN, tokenOption, trackerAccessOptions } from './tracker-access.ts'

const ACTIONS = ['create', 'list', 'show', 'cancel']

/** An ISO 8601 option, checked here so a typo is a usage error before anything is sent. */
function timeOption(ctx: CommandContext, name: string, required: boolean): string | undefined {
  const value = required ? requireString(ctx, name) : optionalString(ctx, name)
  if (value !== undefined && parseIsoTime(value) === undefined) throw usageError(`--${name} '${value}' is not an ISO 8601 time like 2026-11-27T20:00:00+00:00`)
  return value
}

/** A signed manifest's text, as the tracker takes it (it checks the signature and publisher). */
export function readManifestText(path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (err) {
    throw new PeerstageError('PEERSTAGE_CHUNKER_MANIFEST_UNREADABLE', `cannot read manifest ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err, details: { path } })
  }
}

function createInput(ctx: CommandContext): DeploymentInput {
  const path = requireString(ctx, 'manifest')
  const program = requireString(ctx, 'program')
  const targets = stringList(ctx, 'target')
  if (targets.length === 0) throw usageError('--target is required: site:NAME, subnet:CIDR or client:PEERID (repeat for several)')
  const availableAt = timeOption(ctx, 'available', true)!
  const mandatoryAt = timeOption(ctx, 'mandatory', true)!
  const expiresAt = timeOption(ctx, 'expires', false)
  const jitter = optionalString(ctx, 'jitter')
  if (jitter !== undefined && (!/^\d+$/.test(jitter) || Number(jitter) > MAX_JITTER_SECONDS)) throw usageError(`--jitter takes whole seconds from 0 to ${MAX_JITTER_SECONDS} (a week), got '${jitter}'`)
  const timeout = optionalString(ctx, 'timeout')
  if (timeout !== undefined && (!/^\d+$/.test(timeout) || Number(timeout) < 1 || Number(timeout) > MAX_PROGRAM_TIMEOUT_SECONDS)) {
    throw usageError(`--timeout takes whole seconds from 1 to ${MAX_PROGRAM_TIMEOUT_SECONDS} (a week), got '${timeout}'`)
  }
  const manifest = readManifestText(path)
  return {
    manifest, program, targets, availableAt, mandatoryAt, ...(expiresAt !== undefined && { expiresAt }), ...(jitter !== undefined && { jitterSeconds: Number(jitter) }),
    ...(timeout !== undefined && { timeoutSeconds: Number(timeout) }),
  }
}

function describe(d: Deployment): string[] {
  return [
    `deployment ${d.id}: ${d.name}@${d.version}, program ${d.program}${d.cancelledAt === null ? '' : ` (cancelled ${d.cancelledAt})`}`,
    `  package    ${d.packageId}`,
    `  targets    ${d.targets.join(', ')}`,
    `  available  ${d.availableAt}${d.jitterSeconds > 0 ? ` (+ up to ${d.jitterSeconds} s per client)` : ''}`,
    `  mandatory  ${d.mandatoryAt}`,
    `  expires    ${d.expiresAt ?? 'never'}`,
    `  timeout    ${d.timeoutSeconds === undefined ? 'none' : `${d.timeoutSeconds} s, then the program's process group is ended`}`,
  ]
}

function subnetLines(n: SubnetProgress): string[] {
  const lines = [`    ${n.subnet}: ${countsText(n.counts)}; LAN ${formatBytes(n.bytes.lan)}, WAN ${formatBytes(n.bytes.wan)}, reused ${formatBytes(n.bytes.reused)}; sent by DPs ${formatBytes(n.dpUploadBytes)}`]
  for (const c of n.clients) {
    const exit = c.exitCode === undefined ? '' : `, exit ${c.exitCode ?? 'by signal'}`
    // Who it is (name, peer id, address, version) and, beside its last report, whether it still announces and what keeps it.
    const who = c.node === undefined ? c.peerId : `${c.node.name ?? '(no name)'}  ${c.peerId}  ${c.node.address}  ${c.node.version ?? '(version ?)'}`
    const node = c.node === undefined ? '' : [c.node.presence === 'online' ? '' : presenceText(c.node), problemText(c.node)].filter((t) => t !== '').map((t) => `; ${t}`).join('')
    lines.push(`      ${who}  ${c.state} ${Math.round(c.progress * 100)}%${exit}${c.reason ? `: ${c.reason}` : ''}${node}`)
  }
  return lines
}

function statusLines(s: DeploymentStatus): string[] {
  const lines = [...describe(s.deployment), `  clients    ${countsText(s.counts)}`]
  for (const site of s.sites) lines.push(`  site ${site.name}`, ...site.subnets.flatMap(subnetLines))
  if (s.unassigned.length > 0) lines.push('  not in any configured site', ...s.unassigned.flatMap(subnetLines))
  return lines
}

export const deploy: Command = {
  name: 'deploy',
  help: `Usage: peerstage deploy create --tracker URL --token T --manifest FILE --program NAME
                        --target site:NAME|subnet:CIDR|client:PEERID ... --available ISO8601
                        --mandatory ISO8601 [--expires ISO8601] [--jitter SECONDS]
                        [--timeout SECONDS] [--json]
       peerstage deploy list --tracker URL [--token T] [--json]
       peerstage deploy show ID --tracker URL [--token T] [--json]
       peerstage deploy cancel ID --tracker URL --token T [--json]

create  registers a deployment: clients it targets pre-stage the package from --available
        (plus a delay in [0, --jitter) fixed per client), verify it, and run the program at
        --mandatory; not after --expires; a program still running after --timeout is ended
        and its deployment fails with reason timeout. The tracker refuses a manifest not signed by a
        publisher in its trust list.
list    every deployment, oldest first
show    the deployment and its clients per site and subnet: counts by state, bytes over the
        LAN and WAN and reused, what DPs sent, each client's state, progress, exit code, reason
cancel  clients drop it (a program already running finishes); kept, with its reports

  --token T         the tracker's adminToken (create, cancel); list and show: the
                    viewerToken or adminToken, needed when the tracker sets a viewerToken
  --token-file FILE the token from a file instead (ps shows --token); or PEERSTAGE_TOKEN
  --tracker-ca FILE PEM CA (or self-signed) certificate of an https:// tracker
  --manifest FILE   the signed manifest peerstage pack wrote
  --program NAME    a program of the manifest
  --target T        site:NAME, subnet:CIDR or client:PEERID; repeat for several
  --available TIME  ISO 8601 with a zone, e.g. 2026-11-27T20:00:00+00:00: pre-staging may start
  --mandatory TIME  the program runs
  --expires TIME    not run after this (default: never)
  --jitter SECONDS  spread the start of pre-staging over this long (default 0, at most a week)
  --timeout SECONDS end the program (SIGTERM to its process group, SIGKILL 10 s later) if it
                    runs longer (default: no timeout; 1 s to a week)

Exit codes: 0 done; 1 tracker unreachable; 2 usage, bad token, unknown deployment or site,
invalid or untrusted manifest.`,
  options: {
    tracker: { type: 'string' }, ...trackerAccessOptions(ADMIN_TOKEN), manifest: { type: 'string' }, program: { type: 'string' }, target: { type: 'string', multiple: true },
    available: { type: 'string' }, mandatory: { type: 'string' }, expires: { type: 'string' }, jitter: { type: 'string' }, timeout: { type: 'string' },
  },
  positionals: [1, 2],
  async run(ctx) {
    const [action, id] = ctx.positionals
    if (!ACTIONS.includes(action!)) throw usageError(`unknown action '${action}': use create, list, show or cancel`)
    const needsId = action === 'show' || action === 'cancel'
    if (needsId && id === undefined) throw usageError(`${action} needs the deployment id (peerstage deploy list shows them)`)
    if (!needsId && id !== undefined) throw usageError(`${action} takes no argument, got '${id}'`)
    const admin = action === 'create' || action === 'cancel'
    const input = action === 'create' ? createInput(ctx) : undefined
    const client = trackerClient(ctx, tokenOption(ctx, ADMIN_TOKEN, admin))
    try {
      if (action === 'list') {
        const list = await client.listDeployments()
        if (ctx.json) ctx.printJson({ deployments: list })
        else if (list.length === 0) ctx.print('no deployments')
        else for (const d of list) ctx.print(`${d.id}  ${d.name}@${d.version}  ${d.program}  available ${d.availableAt}  mandatory ${d.mandatoryAt}  ${d.cancelledAt === null ? '' : 'cancelled  '}${d.targets.join(' ')}`)
      } else if (action === 'show') {
        const { deployment, ...status } = await client.deploymentStatus(id!)
        if (ctx.json) ctx.printJson({ deployment, status })
        else for (const line of statusLines({ deployment, ...status })) ctx.print(line)
      } else {
        const d = action === 'create' ? await client.createDeployment(input!) : await client.cancelDeployment(id!)
        if (ctx.json) ctx.printJson(d)
        else for (const line of describe(d)) ctx.print(line)
      }
      return 0
    } finally {
      client.close()
    }
  },
}

export const deployCommands = [deploy]
