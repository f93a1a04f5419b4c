import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PdmError } from '../../protocol/errors.js';

export interface HubSigningKey {
  privateKey: KeyObject;
  /** SPKI PEM; agents put this in their config to verify manifests. */
  publicKeyPem: string;
  keyFile: string;
  publicKeyFile: string;
}

export const KEY_FILE = 'hub-ed25519.key';
export const PUBLIC_KEY_FILE = 'hub-ed25519.pub';

/**
 * The hub's Ed25519 model-signing key (`keyFile`, by default in `dir`, where the public key is written): generated on
 * first start, then read back. The private key file is created with mode 0600 and refused if anyone but the owner can
 * read it, since whoever holds it can push models to devices.
 */
export function loadOrCreateSigningKey(dir: string, keyFile = join(dir, KEY_FILE)): HubSigningKey {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const publicKeyFile = join(dir, PUBLIC_KEY_FILE);
  let privateKey: KeyObject;
  if (existsSync(keyFile)) {
    const mode = statSync(keyFile).mode & 0o777;
    if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
      throw new PdmError(
        'PDM_ERR_REGISTRY',
        `${keyFile} has mode ${mode.toString(8)}; the signing key must be readable by its owner only (chmod 600)`,
      );
    }
    try {
      privateKey = createPrivateKey(readFileSync(keyFile, 'utf8'));
    } catch (error) {
      throw new PdmError('PDM_ERR_REGISTRY', `${keyFile}: not a PEM private key (${(error as Error).message})`);
    }
    if (privateKey.asymmetricKeyType !== 'ed25519')
      throw new PdmError(
        'PDM_ERR_REGISTRY',
        `${keyFile}: key type is ${privateKey.asymmetricKeyType}, expected ed25519`,
      );
  } else {
    const pair = generateKeyPairSync('ed25519');
    mkdirSync(dirname(keyFile), { recursive: true, mode: 0o700 });
    privateKey = pair.privateKey;
    // 'wx' fails if another process created it meanwhile, instead of silently replacing a key devices already trust.
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    chmodSync(keyFile, 0o600); // the umask may have narrowed the mode further, never widened it; be explicit anyway
  }
  const publicKeyPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
  writeFileSync(publicKeyFile, publicKeyPem, { mode: 0o644 });
  chmodSync(publicKeyFile, 0o644); // the one file meant to be shared (agents are configured with it), whatever the umask
  return { privateKey, publicKeyPem, keyFile, publicKeyFile };
}
