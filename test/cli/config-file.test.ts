import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { CliErrorCodes } from '../../bin/cli.ts'
import { configKeys, readConfigFile, withConfigFile } from '../../bin/config-file.ts'
import { client, dp, fetch } from '../../bin/node-commands.ts'
import { isPeerstageError } from '../../common/index.ts'
import { tempDir } from '../helpers/tmp.ts'

/** YAML written to DIR/etc/NAME.yaml (a directory of its own, so relative paths show where they resolve). */
function configAt(yaml: string, name = 'node'): { dir: string, file: string } {
  const dir = tempDir()
  const file = join(dir, `${name}.yaml`)
  writeFileSync(file, yaml)
  return { dir, file }
}

/** The error readConfigFile throws: its code, key and message. */
function refusal(yaml: string, cmd = dp): { key: unknown, message: string } {
  const { file } = configAt(yaml)
  try {
    readConfigFile(file, cmd)
  } catch (err) {
    if (!isPeerstageError(err, CliErrorCodes.BAD_CONFIG)) throw err
    expect(err.message.startsWith(`${file}: `), err.message).toBe(true)
    return { key: err.details?.key, message: err.message.slice(file.length + 2) }
  }
  throw new Error(`accepted: ${yaml}`)
}

describe('--config FILE: keys from the option definitions', () => {
  it('has a key per long flag in camelCase, but none for --json, --config or an inline token', () => {
    expect([...configKeys(dp).keys()]).toEqual(expect.arrayContaining(['swarmKey', 'listen', 'dialFrom', 'trust', 'metricsListen', 'bulkPort', 'tracker', 'data', 'publish', 'source', 'uploadLimit', 'dpTokenFile', 'trackerCa']))
    expect([...configKeys(fetch).keys()]).toEqual(expect.arrayContaining(['out', 'peer', 'downloadLimit', 'seedFor', 'stallTimeout', 'clientTokenFile']))
    expect([...configKeys(client).keys()]).toEqual(expect.arrayContaining(['cacheMax', 'clientTokenFile', 'tracker', 'trust']))
    for (const cmd of [dp, fetch, client]) {
      const keys = [...configKeys(cmd).keys()]
      expect(keys).toHaveLength(Object.keys(cmd.options).length - 1) // all but the inline token
      for (const k of ['json', 'config', 'dpToken', 'clientToken']) expect(keys).not.toContain(k)
    }
  })

  it('reads each type: a value, a list (one value is a list of one), numbers as the command line would spell them', () => {
    const { dir, file } = configAt(`swarmKey: keys/swarm.key
listen: [/ip4/127.0.0.1/tcp/7000, /ip4/127.0.0.2/tcp/7000]
tracker: http://127.0.10.10:7070
bulkPort: 7001
uploadLimit: 2Mbit/s
`)
    expect(readConfigFile(file, dp).values).toEqual({
      'swarm-key': join(dir, 'keys/swarm.key'),
      listen: ['/ip4/127.0.0.1/tcp/7000', '/ip4/127.0.0.2/tcp/7000'],
      tracker: ['http://127.0.10.10:7070'],
      'bulk-port': '7001',
      'upload-limit': '2Mbit/s',
    })
    expect(readConfigFile(configAt('bulkPort: off\nseedFor: 30\n').file, fetch).values).toEqual({ 'bulk-port': 'off', 'seed-for': '30' })
    expect(readConfigFile(configAt('').file, client).values).toEqual({})
  })

  it('resolves relative paths against the file\'s directory, and leaves absolute ones and non-paths alone', () => {
    const { dir, file } = configAt(`data: ../var/peerstage
trust: [keys/a.pub, /etc/peerstage/b.pub]
publish: [pkgs/win11.json]
source: [src/win11]
dpTokenFile: dp.token
trackerCa: ca.pem
metricsListen: 127.0.0.1:9100
`)
    expect(readConfigFile(file, dp).values).toEqual({
      data: join(dir, '../var/peerstage'),
      trust: [join(dir, 'keys/a.pub'), '/etc/peerstage/b.pub'],
      publish: [join(dir, 'pkgs/win11.json')],
      source: [join(dir, 'src/win11')],
      'dp-token-file': join(dir, 'dp.token'),
      'tracker-ca': join(dir, 'ca.pem'),
      'metrics-listen': '127.0.0.1:9100',
    })
    expect(readConfigFile(configAt('out: delivered\n').file, fetch).values.out).toMatch(/\/delivered$/)
  })

  it('refuses an unknown key naming it and the nearest known key; a flag\'s spelling names its key', () => {
    expect(refusal('cacheMx: 50GiB\n', client)).toEqual({ key: 'cacheMx', message: 'cacheMx is not a key of a client config (did you mean cacheMax?): the keys are the long flags of \'peerstage client --help\' in camelCase' })
    expect(refusal('swarmkey: s.key\n').message).toContain('(did you mean swarmKey?)')
    expect(refusal('swarm-key: s.key\n')).toEqual({ key: 'swarm-key', message: 'swarm-key is a flag\'s name: as a key it is swarmKey' })
    expect(refusal('cacheMax: 5GiB\n', dp).message).toMatch(/^cacheMax is not a key of a dp config/) // a client's key, not a DP's
    expect(refusal('colour: blue\n').message).not.toContain('did you mean')
  })

  it('refuses --json, --config and inline tokens as keys, saying what to do instead', () => {
    expect(refusal('json: true\n').message).toBe('json is for the command line only (--json)')
    expect(refusal('config: other.yaml\n').message).toBe('config is for the command line only (--config)')
    expect(refusal('dpToken: dp-s3cret\n')).toEqual({ key: 'dpToken', message: expect.stringMatching(/^dpToken is a secret, .*: put the token alone in a file \(mode 0600\) and give dpTokenFile: PATH$/) })
    expect(refusal('clientToken: c\n', client).message).toMatch(/give clientTokenFile: PATH$/)
  })

  it('names the key and the rule of a value of the wrong type', () => {
    expect(refusal('listen: {a: 1}\n').message).toBe('listen must be a list of values (multiaddrs), not a mapping')
    expect(refusal('uploadLimit: [1, 2]\n').message).toBe('uploadLimit must be a single value (rate per remote /24, e.g. 2Mbit/s), not a list')
    expect(refusal('trust: [a.pub, [b.pub]]\n').message).toBe('trust[1] must be a single value (paths of publisher public keys), not a list')
    expect(refusal('dialFrom: true\n').message).toBe('dialFrom must be a single value (IP address), not true')
    expect(refusal('data:\n').message).toBe('data has no value: give one, or delete the key')
    expect(refusal('- swarmKey: a\n').message).toBe('must be a mapping of keys to values (swarmKey: swarm.key), not a list')
    expect(refusal('a: [\n').message).toMatch(/^is not valid YAML: /)
    expect(refusal('data: x\ndata: y\n').message).toMatch(/^is not valid YAML: .*unique/i)
  })

  it('refuses a file that cannot be read, naming it', () => {
    const missing = join(tempDir(), 'missing.yaml')
    expect(() => readConfigFile(missing, dp)).toThrow(`${missing}: cannot be read: ENOENT`)
  })
})

describe('--config FILE: the command line wins', () => {
  const merged = (yaml: string, cli: Record<string, string | string[]>) => {
    const config = readConfigFile(configAt(yaml).file, dp)
    return withConfigFile({ ...cli, config: 'x.yaml' }, config, dp).values
  }

  it('a flag replaces the key, a list flag the whole list; the rest comes from the file', () => {
    const v = merged('listen: [/ip4/127.0.0.1/tcp/1, /ip4/127.0.0.1/tcp/2]\nuploadLimit: 1MB/s\ndialFrom: 127.0.0.5\n', { 'upload-limit': '2MB/s', listen: ['/ip4/127.0.0.9/tcp/3'] })
    expect(v).toEqual({ 'upload-limit': '2MB/s', listen: ['/ip4/127.0.0.9/tcp/3'], 'dial-from': '127.0.0.5' })
  })

  it('a flag replaces the file\'s values of its group: publish with source, a token with its file', () => {
    const v = merged('publish: [a.json, b.json]\nsource: [a, b]\ndpTokenFile: dp.token\n', { publish: ['/c.json'], source: ['/c'], 'dp-token': 't' })
    expect(v).toEqual({ publish: ['/c.json'], source: ['/c'], 'dp-token': 't' })
    const w = merged('publish: [a.json]\nsource: [a]\n', { publish: ['/c.json'] })
    expect(w).toEqual({ publish: ['/c.json'] }) // the command then says each --publish needs its --source
  })

  it('names the key and the file in a usage error about a value that came from the file, not one from the command line', () => {
    const { file } = configAt('uploadLimit: fast\ndialFrom: nowhere\n')
    const config = withConfigFile({ 'dial-from': 'here' }, readConfigFile(file, dp), dp)
    expect(config.annotate("--upload-limit 'fast' is not a rate")).toBe(`--upload-limit 'fast' is not a rate (uploadLimit in ${file})`)
    expect(config.annotate('--data is required')).toBe('--data is required')
    expect(config.annotate("--dial-from 'here' is not an IP")).toBe("--dial-from 'here' is not an IP")
  })
})
