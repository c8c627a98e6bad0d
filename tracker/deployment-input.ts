import { randomBytes } from 'node:crypto'
import { ChunkerErrorCodes, parseManifest, type SignedManifest } from '../chunker/index.ts'
import { isPeerstageError } from '../common/index.ts'
import { MAX_JITTER_SECONDS, MAX_PEER_ID_CHARS, MAX_PROGRAM_TIMEOUT_SECONDS, parseCidr, PEER_ID_PATTERN, parseIsoTime, TrackerErrorCodes, trackerError, type Cidr, type Deployment, type DeploymentInput, type Target } from './protocol/index.ts'

const PEER_ID = new RegExp(PEER_ID_PATTERN)

/** A deployment's targets, parsed for matching against announcing clients. */
export interface TargetSet {
  sites: Set<string>
  subnets: Cidr[]
  clients: Set<string>
}

function badRequest(message: string): never {
  throw trackerError(TrackerErrorCodes.BAD_REQUEST, message)
}

/** Canonical targets (subnets with host bits cleared, duplicates dropped); unknown sites are 404. */
export function checkTargets(targets: readonly string[], knownSites: readonly string[]): Target[] {
  if (targets.length === 0) badRequest('targets must hold at least one of site:NAME, subnet:CIDR, client:PEERID')
  const out = new Set<string>()
  for (const [i, t] of targets.entries()) {
    const cut = t.indexOf(':')
    const kind = t.slice(0, cut)
    const value = t.slice(cut + 1)
    if (cut === -1 || value === '') badRequest(`targets[${i}] '${t}' must be site:NAME, subnet:CIDR or client:PEERID`)
    if (kind === 'site') {
      if (!knownSites.includes(value)) throw trackerError(TrackerErrorCodes.NOT_FOUND, `targets[${i}]: no site '${value}' in the tracker's config (known: ${knownSites.join(', ') || 'none'})`)
      out.add(t)
    } else if (kind === 'subnet') {
      const cidr = parseCidr(value)
      if (cidr === undefined) badRequest(`targets[${i}]: '${value}' is not an IPv4 CIDR like 10.1.2.0/24`)
      out.add(`subnet:${cidr.text}`)
    } else if (kind === 'client') {
      if (value.length > MAX_PEER_ID_CHARS || !PEER_ID.test(value)) badRequest(`targets[${i}]: '${value}' is not a peer id (base58, as peerstage client prints it)`)
      out.add(t)
    } else badRequest(`targets[${i}] '${t}' must be site:NAME, subnet:CIDR or client:PEERID`)
  }
  return [...out]
}

export function targetSet(targets: readonly Target[]): TargetSet {
  const set: TargetSet = { sites: new Set(), subnets: [], clients: new Set() }
  for (const t of targets) {
    const cut = t.indexOf(':')
    const value = t.slice(cut + 1)
    if (t.startsWith('site:')) set.sites.add(value)
    else if (t.startsWith('client:')) set.clients.add(value)
    else {
      const cidr = parseCidr(value)
      if (cidr !== undefined) set.subnets.push(cidr)
    }
  }
  return set
}

/** A manifest schema error on one of these fields (`details.field`) means it is not signed. */
const UNSIGNED_FIELDS = new Set(['signature', 'publisher', 'manifest.signature', 'manifest.publisher'])

/**
 * Parses the manifest against the trusted publishers: a signature or trust problem is
 * PEERSTAGE_TRACKER_UNTRUSTED_PACKAGE, anything else wrong with it BAD_REQUEST.
 */
export function checkManifest(text: string, trusted: readonly string[], refused: 'deployment' | 'package' = 'deployment'): SignedManifest {
  if (trusted.length === 0) {
    throw trackerError(TrackerErrorCodes.UNTRUSTED_PACKAGE, `this tracker trusts no publisher, so it refuses every ${refused}: add \`trust: [publisher.pub]\` to its config and restart it`)
  }
  try {
    return parseManifest(text, { trusted, source: 'the manifest' })
  } catch (err) {
    if (!isPeerstageError(err)) throw err
    if (isPeerstageError(err, ChunkerErrorCodes.MANIFEST_BAD_SIGNATURE) || isPeerstageError(err, ChunkerErrorCodes.MANIFEST_UNTRUSTED)) {
      throw trackerError(TrackerErrorCodes.UNTRUSTED_PACKAGE, err.message, { cause: err })
    }
    if (isPeerstageError(err, ChunkerErrorCodes.MANIFEST_SCHEMA) && UNSIGNED_FIELDS.has(String(err.details?.field))) {
      throw trackerError(TrackerErrorCodes.UNTRUSTED_PACKAGE, `the manifest is not signed (${err.message}): sign it with peerstage pack --key`, { cause: err })
    }
    throw trackerError(TrackerErrorCodes.BAD_REQUEST, `manifest: ${err.message}`, { cause: err })
  }
}

function time(value: string, field: string): number {
  const ms = parseIsoTime(value)
  if (ms === undefined) badRequest(`${field} '${value}' is not an ISO 8601 time like 2026-11-27T20:00:00+00:00`)
  return ms
}

/**
 * Checks a create request and builds the deployment (not yet stored). Throws a
 * PeerstageError naming the field; `now` decides whether expiresAt is already past.
 */
export function buildDeployment(input: DeploymentInput, context: { trusted: readonly string[], sites: readonly string[], now: Date, taken: (id: string) => boolean }): { deployment: Deployment, signed: SignedManifest } {
  const signed = checkManifest(input.manifest, context.trusted)
  const { manifest } = signed
  if (!manifest.programs.some((p) => p.name === input.program)) {
    badRequest(`program '${input.program}' is not in ${manifest.name}@${manifest.version} (it has: ${manifest.programs.map((p) => p.name).join(', ') || 'no programs'})`)
  }
  const targets = checkTargets(input.targets, context.sites)
  const available = time(input.availableAt, 'availableAt')
  const mandatory = time(input.mandatoryAt, 'mandatoryAt')
  if (mandatory < available) badRequest(`mandatoryAt (${input.mandatoryAt}) is before availableAt (${input.availableAt})`)
  let expires: number | undefined
  if (input.expiresAt !== undefined && input.expiresAt !== null) {
    expires = time(input.expiresAt, 'expiresAt')
    if (expires <= mandatory) badRequest(`expiresAt (${input.expiresAt}) must be after mandatoryAt (${input.mandatoryAt})`)
    if (expires <= context.now.getTime()) badRequest(`expiresAt (${input.expiresAt}) is already past`)
  }
  const jitter = input.jitterSeconds ?? 0
  if (!Number.isSafeInteger(jitter) || jitter < 0 || jitter > MAX_JITTER_SECONDS) badRequest(`jitterSeconds must be a whole number from 0 to ${MAX_JITTER_SECONDS} (a week), got ${jitter}`)
  const timeout = input.timeoutSeconds
  if (timeout !== undefined && (!Number.isSafeInteger(timeout) || timeout < 1 || timeout > MAX_PROGRAM_TIMEOUT_SECONDS)) {
    badRequest(`timeoutSeconds must be a whole number from 1 to ${MAX_PROGRAM_TIMEOUT_SECONDS} (a week), got ${timeout}`)
  }
  let id: string
  do id = `d-${randomBytes(4).toString('hex')}`
  while (context.taken(id))
  const deployment: Deployment = {
    id,
    packageId: signed.packageId,
    name: manifest.name,
    version: manifest.version,
    program: input.program,
    targets,
    availableAt: new Date(available).toISOString(),
    mandatoryAt: new Date(mandatory).toISOString(),
    expiresAt: expires === undefined ? null : new Date(expires).toISOString(),
    jitterSeconds: jitter,
    ...(timeout !== undefined && { timeoutSeconds: timeout }),
    createdAt: context.now.toISOString(),
    cancelledAt: null,
  }
  return { deployment, signed }
}
