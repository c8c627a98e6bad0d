/**
 * What each flag of `dp`, `fetch` and `client` is, for their `--config FILE` (config-file.ts)
 * and the README's "Config files" tables, which test/cli/config-tables.test.ts checks against
 * this and the commands' option definitions. A flag added to a command is a config key at
 * once; its entry here gives its unit, its default, and whether its value is a path.
 */
import { FETCH_STALL_SECONDS } from '../node/index.ts'
import type { FlagDocs } from './config-file.ts'
import { CLIENT_TOKEN, DP_TOKEN, type TokenSource } from './tracker-access.ts'
import { FETCH_TRACKER_TIMEOUT_SECONDS } from './tracker-wait.ts'

/** A token's file: without it, the token's environment variable. */
const TOKEN_FILE = (source: TokenSource): FlagDocs[string] => ({ unit: 'path of a file holding the token (mode 0600)', default: `\`${source.env}\`, else none`, path: true })

export const NODE_FLAG_DOCS: FlagDocs = {
  'swarm-key': { unit: 'path of the swarm key file', default: 'required', path: true },
  data: { unit: 'path of a directory (identity, store, staging)', default: { dp: 'required', fetch: '`OUT/.peerstage`', client: 'required' }, path: true },
  listen: { unit: 'multiaddrs', default: '`/ip4/127.0.0.1/tcp/0`' },
  name: { unit: 'one word, at most 253 characters', default: 'the host name' },
  'dial-from': { unit: 'IP address', default: 'the system\'s choice' },
  trust: { unit: 'paths of publisher public keys', default: { dp: 'any publisher', fetch: 'any publisher', client: 'required' }, path: true },
  'require-trust': { unit: '`true` or `false`', default: 'false (a missing --trust is a warning)' },
  'metrics-listen': { unit: 'HOST:PORT', default: 'none' },
  'bulk-port': { unit: 'TCP port, or `off`', default: 'any free port' },
  tracker: { unit: 'URLs', default: { dp: 'none', fetch: 'none (give `peer`)', client: 'required' } },
  'tracker-ca': { unit: 'path of a PEM certificate', default: 'Node\'s CA store', path: true },
  'dp-token-file': TOKEN_FILE(DP_TOKEN),
  'client-token-file': TOKEN_FILE(CLIENT_TOKEN),
  // dp
  publish: { unit: 'paths of signed manifests, each with its `source`', default: 'none', path: true, group: 'publish' },
  source: { unit: 'paths of directories, one per `publish`', default: 'none', path: true, group: 'publish' },
  'upload-limit': { unit: 'rate per remote /24, e.g. `2Mbit/s`', default: 'unlimited' },
  // fetch
  out: { unit: 'path of a directory', default: 'required', path: true },
  peer: { unit: 'multiaddrs with `/p2p/ID`', default: 'none (give `tracker`)' },
  'download-limit': { unit: 'rate, e.g. `20Mbit/s`', default: 'unlimited' },
  'seed-for': { unit: 'seconds', default: '0' },
  'stall-timeout': { unit: 'seconds', default: String(FETCH_STALL_SECONDS) },
  'tracker-timeout': { unit: 'seconds (0: one try)', default: String(FETCH_TRACKER_TIMEOUT_SECONDS) },
  // client
  'cache-max': { unit: 'size, e.g. `50GiB`', default: 'unlimited' },
}
