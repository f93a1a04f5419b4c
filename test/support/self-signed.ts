import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** Whether the tests can make certificates here. */
export const OPENSSL = existsSync('/usr/bin/openssl');

/** A throwaway self-signed certificate for 127.0.0.1 in `dir`, made here so nothing is fetched or shipped. */
export function selfSignedCert(dir: string): { certFile: string; keyFile: string } {
  const certFile = join(dir, 'hub.crt');
  const keyFile = join(dir, 'hub.key');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1'].concat([
      '-subj',
      '/CN=pdm-test',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ]),
    { stdio: 'ignore' },
  );
  return { certFile, keyFile };
}

/** A throwaway certificate authority in `dir` (P-256, one day), for client certificates. */
export function testCa(dir: string, name: string): { certFile: string; keyFile: string } {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1'].concat([
      ...['-keyout', keyFile, '-out', certFile, '-subj', `/CN=${name}`],
    ]),
    { stdio: 'ignore' },
  );
  return { certFile, keyFile };
}

/**
 * A client certificate with subject CN `cn`, signed by `ca`, valid for `days` (-1: it expired yesterday). A `/` in
 * the CN is escaped for openssl's -subj, where it would start a new name component.
 */
export function clientCert(
  dir: string,
  ca: { certFile: string; keyFile: string },
  cn: string,
  file: string,
  days = 1,
): { certFile: string; keyFile: string } {
  const certFile = join(dir, `${file}.crt`);
  const keyFile = join(dir, `${file}.key`);
  const csr = join(dir, `${file}.csr`);
  const subject = `/CN=${cn.replaceAll('/', '\\/')}`;
  execFileSync(
    'openssl',
    ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'].concat([
      '-keyout',
      keyFile,
      '-out',
      csr,
      '-subj',
      subject,
    ]),
    { stdio: 'ignore' },
  );
  execFileSync(
    'openssl',
    ['x509', '-req', '-in', csr, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-CAcreateserial', '-out', certFile].concat([
      '-days',
      String(days),
    ]),
    { stdio: 'ignore' },
  );
  return { certFile, keyFile };
}
