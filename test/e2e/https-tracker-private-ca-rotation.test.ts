import { execFile, spawn } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { connect } from 'node:tls'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { cliPack, peerstage, startDaemon, type CliResult } from '../helpers/cli.ts'
import { writeTree } from '../helpers/packages.ts'
import { makeCa, makeServerCert } from '../helpers/tls.ts'
import { pseudoRandomBytes, tempDir } from '../helpers/tmp.ts'

const BIN = process.env.PEERSTAGE_BIN ?? fileURLToPath(new URL('../../bin/peerstage.ts', import.meta.url))
const TRACKER_IP = '127.0.10.10'
const WRONG_TOKEN = 'wr0ng-t0ken-that-must-not-show'

const daemons: Array<() => Promise<void>> = []
afterEach(async () => {
  await Promise.all(daemons.splice(0).map((stop) => stop()))
})

/** The CLI with extra environment variables (tokens given the third way). */
function peerstageWithEnv(args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
    })
  })
}

/** A tracker process logging everything (trace) to a string we can search, and its pid for SIGHUP. */
function startTracker(config: string): { url: Promise<string>, log: () => string, hangup: () => void } {
  const child = spawn(process.execPath, [BIN, 'tracker', '--config', config, '--json'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PEERSTAGE_LOG_LEVEL: 'trace' } })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  daemons.push(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((r) => child.once('exit', r))
    child.kill('SIGTERM')
    await exited
  })
  const url = new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.includes('\n')) resolve(JSON.parse(out.slice(0, out.indexOf('\n'))).url as string)
    })
    child.once('exit', (code) => reject(new Error(`tracker exited with ${code}: ${stderr}`)))
  })
  return { url, log: () => stderr, hangup: () => child.kill('SIGHUP') }
}

/** The SHA-256 fingerprint of the certificate a new TLS connection to the tracker gets. */
function servedFingerprint(port: number, ca: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: TRACKER_IP, port, ca }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256
      socket.end()
      resolve(fingerprint)
    })
    socket.once('error', reject)
  })
}

async function untilServed(port: number, ca: Buffer, fingerprint: string): Promise<string> {
  let seen = ''
  for (let i = 0; i < 40 && seen !== fingerprint; i++) {
    seen = await servedFingerprint(port, ca)
    if (seen !== fingerprint) await new Promise((r) => setTimeout(r, 250))
  }
  return seen
}

const fingerprintOf = (certFile: string): string => new X509Certificate(readFileSync(certFile)).fingerprint256

describe('tracker over HTTPS with a private CA (real processes)', () => {
  it('serves DP, fetch and the admin CLI with --tracker-ca and token files; refuses an untrusted client; rotates its certificate without dropping the DP', async () => {
    const dir = tempDir()
    const ca = makeCa(dir)
    const first = makeServerCert(dir, ca, 'tracker-1', [`IP:${TRACKER_IP}`])
    copyFileSync(first.cert, join(dir, 'tracker.crt'))
    copyFileSync(first.key, join(dir, 'tracker.key'))
    for (const [name, token] of [['admin', 'adm1n-s3cret'], ['dp', 'dp-s3cret'], ['client', 'cl1ent-s3cret'], ['wrong', WRONG_TOKEN]]) writeFileSync(join(dir, `${name}.token`), `${token}\n`)
    writeFileSync(join(dir, 'tracker.yaml'), `listen: ${TRACKER_IP}:0
tls:
  cert: tracker.crt
  key: tracker.key
adminTokenFile: admin.token
dpTokenFile: dp.token
clientTokenFile: client.token
announceIntervalSeconds: 1
sites:
  - name: dc
    subnets: [127.0.10.0/24]
  - name: leeds
    subnets: [127.0.1.0/24, 127.0.2.0/24]
`)
    const src = join(dir, 'src')
    writeTree(src, { 'install.wim': pseudoRandomBytes(3_000_000, 7), 'setup.cmd': '@echo off\r\n' })
    const manifest = await cliPack(dir, src, { version: '1', out: 'pkg.json' })
    expect((await peerstage(['swarm-key', '--out', join(dir, 'swarm.key')])).code).toBe(0)

    const tracker = startTracker(join(dir, 'tracker.yaml'))
    const url = await tracker.url
    expect(url).toMatch(/^https:\/\/127\.0\.10\.10:\d+$/)
    const port = Number(new URL(url).port)
    const caPem = readFileSync(ca.cert)
    const trusted = ['--tracker', url, '--tracker-ca', ca.cert]

    // The admin CLI: the token from a file, and from the environment.
    const status = await peerstage(['status', ...trusted, '--token-file', join(dir, 'admin.token'), '--json'])
    expect(status.code, status.stderr).toBe(0)
    expect(JSON.parse(status.stdout).sites.map((s: any) => s.name)).toEqual(['dc', 'leeds'])
    const fromEnv = await peerstageWithEnv(['throttle', 'show', ...trusted, '--site', 'leeds', '--json'], { PEERSTAGE_TOKEN: 'adm1n-s3cret' })
    expect(fromEnv.code, fromEnv.stderr).toBe(0)
    expect(JSON.parse(fromEnv.stdout)).toMatchObject({ site: 'leeds' })

    // Without the CA: refused in one sentence with a stable code, before any token is sent.
    const untrusted = await peerstage(['status', '--tracker', url, '--token-file', join(dir, 'admin.token')])
    expect(untrusted.code).toBe(2)
    expect(untrusted.stderr.trim().split('\n')).toHaveLength(1)
    expect(untrusted.stderr).toMatch(/presented a certificate that is not signed by a CA this node trusts \(give that CA with --tracker-ca FILE\)/)
    const untrustedJson = JSON.parse((await peerstage(['status', '--tracker', url, '--json'])).stdout)
    expect(untrustedJson.error.code).toBe('PEERSTAGE_TRACKER_UNTRUSTED_CERTIFICATE')
    const otherCa = makeCa(dir, 'other-ca')
    const wrongCa = await peerstage(['deploy', 'list', '--tracker', url, '--tracker-ca', otherCa.cert, '--json'])
    expect(JSON.parse(wrongCa.stdout).error.code).toBe('PEERSTAGE_TRACKER_UNTRUSTED_CERTIFICATE')

    // No plain HTTP on the port: an http:// URL gets a hint, not an answer.
    const plain = await peerstage(['status', '--tracker', url.replace('https:', 'http:')])
    expect(plain.code).toBe(1)
    expect(plain.stderr).toMatch(/cannot reach the tracker at http:\/\/127\.0\.10\.10:\d+: ECONNRESET \(if the tracker serves HTTPS, use an https:\/\/ URL\)/)

    // A wrong token is refused, and shows up in no output and no log line.
    const wrong = await peerstage(['throttle', 'show', '--site', 'leeds', ...trusted, '--token-file', join(dir, 'wrong.token'), '--json'])
    expect(wrong.code).toBe(2)
    expect(JSON.parse(wrong.stdout).error.code).toBe('PEERSTAGE_TRACKER_UNAUTHORIZED')
    const wrongText = await peerstage(['package', 'add', manifest, ...trusted, '--token', WRONG_TOKEN])
    expect(wrongText.stderr).toMatch(/wrong token for the admin API/)
    for (const text of [wrong.stdout, wrong.stderr, wrongText.stdout, wrongText.stderr, tracker.log()]) expect(text).not.toContain(WRONG_TOKEN)
    expect(tracker.log()).not.toContain('adm1n-s3cret')

    // A DP and a fetch through the HTTPS tracker.
    const dp = startDaemon(['dp', '--data', join(dir, 'dp'), '--swarm-key', join(dir, 'swarm.key'), '--listen', '/ip4/127.0.10.1/tcp/0', '--dial-from', '127.0.10.1',
      '--publish', manifest, '--source', src, ...trusted, '--dp-token-file', join(dir, 'dp.token'), '--json'])
    daemons.push(dp.stop)
    expect((await dp.ready).tracker).toEqual({ subnet: '127.0.10.0/24', site: 'dc' })
    const fetchFrom = (ip: string): Promise<CliResult> => peerstage(['fetch', manifest, '--out', join(dir, `out-${ip}`), '--swarm-key', join(dir, 'swarm.key'),
      '--trust', join(dir, 'keys/publisher.pub'), '--listen', `/ip4/${ip}/tcp/0`, '--dial-from', ip, ...trusted, '--client-token-file', join(dir, 'client.token'), '--json'])
    const fetched = await fetchFrom('127.0.1.1')
    expect(fetched.code, fetched.stderr).toBe(0)
    expect(readFileSync(join(dir, 'out-127.0.1.1/install.wim')).equals(readFileSync(join(src, 'install.wim')))).toBe(true)

    // Rotation: new files from the same CA, then SIGHUP. New connections get the new certificate.
    expect(await servedFingerprint(port, caPem)).toBe(fingerprintOf(first.cert))
    const second = makeServerCert(dir, ca, 'tracker-2', [`IP:${TRACKER_IP}`])
    copyFileSync(second.cert, join(dir, 'tracker.crt'))
    copyFileSync(second.key, join(dir, 'tracker.key'))
    tracker.hangup()
    expect(await untilServed(port, caPem, fingerprintOf(second.cert))).toBe(fingerprintOf(second.cert))

    // The DP kept going: still registered, announcing and seeding to a new fetch after the rotation.
    await new Promise((r) => setTimeout(r, 2500)) // past two announce intervals under the new certificate
    const after = JSON.parse((await peerstage(['status', ...trusted, '--token-file', join(dir, 'admin.token'), '--json'])).stdout)
    expect(after.sites.find((s: any) => s.name === 'dc').subnets[0].nodes.dps).toBe(1)
    const fetchedAfter = await fetchFrom('127.0.2.1')
    expect(fetchedAfter.code, fetchedAfter.stderr).toBe(0)
    expect(JSON.parse(fetchedAfter.stdout)).toMatchObject({ ok: true })
    expect(readFileSync(join(dir, 'out-127.0.2.1/install.wim')).equals(readFileSync(join(src, 'install.wim')))).toBe(true)

    // A broken new certificate is refused with a warning, and the served one stays.
    writeFileSync(join(dir, 'tracker.crt'), 'not a certificate\n')
    tracker.hangup()
    for (let i = 0; i < 40 && !tracker.log().includes('not reloaded'); i++) await new Promise((r) => setTimeout(r, 250))
    const refusal = tracker.log().split('\n').find((line) => line.includes('not reloaded'))
    expect(JSON.parse(refusal!)).toMatchObject({ msg: 'tracker TLS certificate not reloaded, the old one stays', why: 'SIGHUP', err: expect.stringMatching(/tracker\.crt' is not a PEM certificate/) })
    expect(await servedFingerprint(port, caPem)).toBe(fingerprintOf(second.cert))

    // A change of the files alone (no signal) is picked up too.
    const third = makeServerCert(dir, ca, 'tracker-3', [`IP:${TRACKER_IP}`])
    copyFileSync(third.key, join(dir, 'tracker.key'))
    copyFileSync(third.cert, join(dir, 'tracker.crt'))
    expect(await untilServed(port, caPem, fingerprintOf(third.cert))).toBe(fingerprintOf(third.cert))
  }, 240_000)
})
