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
