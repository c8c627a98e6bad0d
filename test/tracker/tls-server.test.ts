import { X509Certificate } from 'node:crypto'
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs'
import type { Server as HttpsServer } from 'node:https'
import { join } from 'node:path'
import { connect } from 'node:tls'
import { afterEach, describe, expect, it } from 'vitest'
import { isPeerstageError } from '../../common/index.ts'
import { createTrackerServer, TlsReloader, TrackerClient } from '../../tracker/index.ts'
import { makeCa, makeServerCert } from '../helpers/tls.ts'
import { tempDir } from '../helpers/tmp.ts'
import { CONFIG, trackerAt } from './helpers.ts'

const closers: Array<() => unknown> = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})

function served(port: number, ca: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.10.10', port, ca }, () => {
      resolve(socket.getPeerCertificate().fingerprint256)
      socket.end()
    })
    socket.once('error', reject)
  })
}

/** A tracker of CONFIG with `tls:` files under a fresh directory, listening in-process on 127.0.10.10. */
async function httpsTracker(altNames = ['IP:127.0.10.10']) {
  const dir = tempDir()
  const ca = makeCa(dir)
  const first = makeServerCert(dir, ca, 'one', altNames)
  copyFileSync(first.cert, join(dir, 'tracker.crt'))
  copyFileSync(first.key, join(dir, 'tracker.key'))
  const { tracker } = await trackerAt(Date.now(), undefined, { ...CONFIG, tls: { cert: join(dir, 'tracker.crt'), key: join(dir, 'tracker.key') } })
  const app = createTrackerServer(tracker)
  closers.push(() => tracker.stop(), () => app.close())
  await app.listen({ host: '127.0.10.10', port: 0 })
  const port = (app.server.address() as { port: number }).port
  return { dir, ca, first, app, port, caPem: readFileSync(ca.cert) }
}

describe('the tracker server with tls: in its config', () => {
  it('answers HTTPS to a client trusting its CA, and nothing over plain HTTP or to a client without the CA', async () => {
    const { port, caPem } = await httpsTracker()
    const client = new TrackerClient({ url: `https://127.0.10.10:${port}`, ca: caPem })
    closers.push(() => client.close())
    expect((await client.status()).sites.map((s: { name: string }) => s.name)).toEqual(['dc', 'leeds', 'york'])

    const plain = new TrackerClient({ url: `http://127.0.10.10:${port}` })
    const noCa = new TrackerClient({ url: `https://127.0.10.10:${port}` })
    const elsewhere = await httpsTracker(['DNS:tracker.example', 'IP:10.0.0.5'])
    const wrongHost = new TrackerClient({ url: `https://127.0.10.10:${elsewhere.port}`, ca: elsewhere.caPem })
    closers.push(() => plain.close(), () => noCa.close(), () => wrongHost.close())
    const failures = await Promise.all([plain, noCa, wrongHost].map((c) => c.status().then(() => undefined, (err: unknown) => err)))
    expect(isPeerstageError(failures[0], 'PEERSTAGE_TRACKER_UNREACHABLE')).toBe(true)
    expect(isPeerstageError(failures[1], 'PEERSTAGE_TRACKER_UNTRUSTED_CERTIFICATE')).toBe(true)
    expect((failures[1] as Error).message).toMatch(/is not signed by a CA this node trusts/)
    expect(isPeerstageError(failures[2], 'PEERSTAGE_TRACKER_UNTRUSTED_CERTIFICATE')).toBe(true)
    expect((failures[2] as Error).message).toMatch(/is not made for 127\.0\.10\.10 \(use a name or IP of its subjectAltName in the URL\): ERR_TLS_CERT_ALTNAME_INVALID/)
  })

  it('reloads a good new pair, keeps the old one for a bad pair, and a kept-alive client goes on across both', async () => {
    const { dir, ca, first, app, port, caPem } = await httpsTracker()
    const reloader = new TlsReloader(app.server as unknown as HttpsServer, { certFile: join(dir, 'tracker.crt'), keyFile: join(dir, 'tracker.key') }, { pollMs: 60_000 })
    closers.push(() => reloader.close())
    const client = new TrackerClient({ url: `https://127.0.10.10:${port}`, ca: caPem })
    closers.push(() => client.close())
    await client.status()
    const fingerprint = (file: string): string => new X509Certificate(readFileSync(file)).fingerprint256
    expect(await served(port, caPem)).toBe(fingerprint(first.cert))

    const second = makeServerCert(dir, ca, 'two', ['IP:127.0.10.10'])
    copyFileSync(second.key, join(dir, 'tracker.key')) // the key first: until the cert follows, the pair does not match
    expect(reloader.reload()).toBe(false)
    expect(await served(port, caPem)).toBe(fingerprint(first.cert))
    copyFileSync(second.cert, join(dir, 'tracker.crt'))
    expect(reloader.reload()).toBe(true)
    expect(await served(port, caPem)).toBe(fingerprint(second.cert))
    writeFileSync(join(dir, 'tracker.crt'), '')
    expect(reloader.reload()).toBe(false)
    expect(await served(port, caPem)).toBe(fingerprint(second.cert))
    expect((await client.status()).sites).toHaveLength(3)
  })
})
