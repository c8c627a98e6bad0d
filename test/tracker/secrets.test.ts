import { chmodSync, copyFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createTrackerConfig, readTlsPair, readTrackerConfig, sameToken } from '../../tracker/index.ts'
import { makeCa, makeServerCert } from '../helpers/tls.ts'
import { tempDir } from '../helpers/tmp.ts'

const base = { adminToken: 'a', dpToken: 'd' }

function configError(input: unknown, baseDir?: string): { message: string, key: unknown, code: unknown } {
  try {
    createTrackerConfig(input, baseDir === undefined ? {} : { baseDir })
  } catch (err) {
    return { message: (err as Error).message, key: (err as { details?: { key?: unknown } }).details?.key, code: (err as { code?: unknown }).code }
  }
  throw new Error('the config was accepted')
}

describe('tracker config: tokens from files', () => {
  it('reads each token from NAMEFile, relative to the config, without the newline around it', () => {
    const dir = tempDir()
    for (const [file, text] of [['admin', 'adm1n\n'], ['dp', '  dp-t0ken\r\n'], ['client', 'cl'], ['viewer', 'v1ew\n']]) writeFileSync(join(dir, `${file}.token`), text)
    writeFileSync(join(dir, 'tracker.yaml'), 'adminTokenFile: admin.token\ndpTokenFile: dp.token\nclientTokenFile: client.token\nviewerTokenFile: viewer.token\n')
    const config = readTrackerConfig(join(dir, 'tracker.yaml'))
    expect([config.adminToken, config.dpToken, config.clientToken, config.viewerToken]).toEqual(['adm1n', 'dp-t0ken', 'cl', 'v1ew'])
  })

  it('refuses an unreadable, empty or two-word token file, or a token given two ways, naming the key', () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'empty'), '\n \n')
    writeFileSync(join(dir, 'two'), 'one\ntwo\n')
    writeFileSync(join(dir, 'secret'), 's3cret')
    chmodSync(join(dir, 'secret'), 0o000)
    const unreadableByUs = process.getuid?.() !== 0 // root reads a mode-000 file
    const cases: Array<[unknown, string, RegExp]> = [
      [{ dpToken: 'd', adminTokenFile: 'missing.token' }, 'adminTokenFile', /^adminTokenFile '.*missing\.token' cannot be read \(it holds the token\): ENOENT/],
      [{ ...base, dpToken: undefined, dpTokenFile: 'empty' }, 'dpTokenFile', /^dpTokenFile 'empty' is empty: it must hold the token/],
      [{ ...base, clientTokenFile: 'two' }, 'clientTokenFile', /^clientTokenFile 'two' holds more than one line or word/],
      [{ ...base, adminTokenFile: 'secret' }, 'adminToken', /^adminToken and adminTokenFile exclude each other/],
      [{ ...base, viewerTokenFile: '' }, 'viewerTokenFile', /^viewerTokenFile must be the path of a file holding the token/],
      [{ ...base, dashboardTokenFile: 'missing' }, 'dashboardTokenFile', /^dashboardTokenFile '.*missing' cannot be read/],
      ...(unreadableByUs ? [[{ dpToken: 'd', adminTokenFile: 'secret' }, 'adminTokenFile', /^adminTokenFile '.*secret' cannot be read \(it holds the token\): EACCES/] as [unknown, string, RegExp]] : []),
    ]
    for (const [input, key, message] of cases) {
      const err = configError(input, dir)
      expect(err.message, key).toMatch(message)
      expect(err.key, key).toBe(key)
      expect(err.code, key).toBe('PEERSTAGE_TRACKER_BAD_CONFIG')
    }
  })

  it('takes viewerToken, or dashboardToken as its old name, not both', () => {
    expect(createTrackerConfig({ ...base, viewerToken: 'v' }).viewerToken).toBe('v')
    expect(createTrackerConfig({ ...base, dashboardToken: 'old' }).viewerToken).toBe('old')
    expect(createTrackerConfig(base).viewerToken).toBeUndefined()
    const both = configError({ ...base, viewerToken: 'v', dashboardToken: 'old' })
    expect(both.message).toMatch(/^dashboardToken is the old name of viewerToken: give only viewerToken/)
  })
})

describe('tracker config: tls', () => {
  it('takes a certificate and its key, relative to the config file, and reads them as a pair', () => {
    const dir = tempDir()
    const pair = makeServerCert(dir, makeCa(dir), 'tracker', ['IP:127.0.10.10'])
    writeFileSync(join(dir, 'tracker.yaml'), 'adminToken: a\ndpToken: d\ntls:\n  cert: tracker.crt\n  key: tracker.key\n')
    const config = readTrackerConfig(join(dir, 'tracker.yaml'))
    expect(config.tls).toEqual({ certFile: pair.cert, keyFile: pair.key })
    expect(readTlsPair(config.tls!).cert.toString()).toContain('-----BEGIN CERTIFICATE-----')
    expect(createTrackerConfig(base).tls).toBeUndefined()
  })

  it('refuses missing files, a key of another certificate, non-PEM files and unknown keys, naming the key', () => {
    const dir = tempDir()
    const ca = makeCa(dir)
    makeServerCert(dir, ca, 'one', ['IP:127.0.10.10'])
    makeServerCert(dir, ca, 'two', ['IP:127.0.10.10'])
    copyFileSync(join(dir, 'one.ext'), join(dir, 'not-pem'))
    const cases: Array<[unknown, string, RegExp]> = [
      [{ cert: 'nope.crt', key: 'one.key' }, 'tls.cert', /^tls\.cert '.*nope\.crt' cannot be read \(the certificate\): ENOENT/],
      [{ cert: 'one.crt', key: 'nope.key' }, 'tls.key', /^tls\.key '.*nope\.key' cannot be read \(the private key\): ENOENT/],
      [{ cert: 'one.crt', key: 'two.key' }, 'tls.key', /^tls\.key '.*two\.key' is not the private key of the certificate .*one\.crt/],
      [{ cert: 'not-pem', key: 'one.key' }, 'tls.cert', /^tls\.cert '.*not-pem' is not a PEM certificate/],
      [{ cert: 'one.crt', key: 'one.crt' }, 'tls.key', /^tls\.key '.*one\.crt' is not a PEM private key/],
      [{ cert: 'one.crt' }, 'tls.key', /^tls\.key must be the path of a PEM private key file/],
      [{ cert: 'one.crt', key: 'one.key', ca: 'ca.crt' }, 'tls.ca', /^tls\.ca is not a known key \(expected one of cert, key\)/],
      ['one.crt', 'tls', /^tls must be a mapping with cert: FILE and key: FILE/],
    ]
    for (const [tls, key, message] of cases) {
      const err = configError({ ...base, tls }, dir)
      expect(err.message, key).toMatch(message)
      expect(err.key, key).toBe(key)
    }
  })
})

describe('token comparison', () => {
  it('compares SHA-256 digests: equal only for the same token, whatever the lengths', () => {
    expect(sameToken('s3cret', 's3cret')).toBe(true)
    expect(sameToken('s3cret', 's3creT')).toBe(false)
    expect(sameToken('s3cret', 's3cret-and-more')).toBe(false) // a length difference does not throw (timingSafeEqual would on raw bytes)
    expect(sameToken('', 's3cret')).toBe(false)
    expect(sameToken('pässwörd', 'pässwörd')).toBe(true)
  })
})
