import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * Certificates made with the real `openssl`, as README's TLS walk-through does: a private CA
 * and server certificates it signs. Validity counts from the clock openssl runs on (under
 * `faketime` the same faked clock as the tracker and the nodes).
 */

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] })
}

/** A CA: DIR/NAME.crt and DIR/NAME.key (P-256). */
export function makeCa(dir: string, name = 'ca'): { cert: string, key: string } {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`,
    '-days', '3650', '-subj', `/CN=peerstage test ${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir)
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) }
}

/** A server certificate for `altNames` (`IP:127.0.10.10`, `DNS:tracker.example`) signed by `ca`: DIR/NAME.crt and DIR/NAME.key. */
export function makeServerCert(dir: string, ca: { cert: string, key: string }, name: string, altNames: string[]): { cert: string, key: string } {
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir)
  writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${altNames.join(',')}\nextendedKeyUsage=serverAuth\n`)
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', `${name}.crt`, '-days', '825', '-extfile', `${name}.ext`], dir)
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) }
}
