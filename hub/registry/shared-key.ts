import { createHash, createPublicKey } from 'node:crypto';
import { existsSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { PdmError } from '../../protocol/errors.js';
import type { SqlSession } from '../store/sql/session.js';
import { KEY_FILE, loadOrCreateSigningKey, PUBLIC_KEY_FILE, type HubSigningKey } from './keys.js';

/** A short name for a public key, safe to log and to compare by eye: SHA-256 of its SPKI bytes. */
export function keyFingerprint(publicKeyPem: string): string {
  const der = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex').slice(0, 16);
}

/**
 * The model-signing key of a process sharing its registry with others. The private key stays a file on each
 * process (never in the database, whose readers and backups would then hold the power to push models to devices);
 * the database records only its public key. The first process records its key (generating it if there is none);
 * every later one must hold the same key, or it refuses to start.
 */
export function sharedSigningKey(dir: string, db: SqlSession, keyFile = join(dir, KEY_FILE)): HubSigningKey {
  const recorded = () =>
    db.get<{ public_key: string }>('select public_key from shared_registry_key where id = 1')?.public_key;
  const before = recorded();
  if (before !== undefined && !existsSync(keyFile))
    throw new PdmError(
      'PDM_ERR_REGISTRY_KEY',
      `${keyFile} is missing: the hub processes of this cluster sign models with the key whose public key has ` +
        `fingerprint ${keyFingerprint(before)}; copy their key file here (mode 600), or set registry.signingKeyFile`,
    );
  const created = !existsSync(keyFile);
  const key = loadOrCreateSigningKey(dir, keyFile);
  if (before === undefined)
    db.run('insert into shared_registry_key (id, public_key) values (1, ?) on conflict (id) do nothing', [
      key.publicKeyPem,
    ]);
  const cluster = before ?? recorded()!;
  const mine = keyFingerprint(key.publicKeyPem);
  if (keyFingerprint(cluster) === mine) return key;
  // Another process recorded its key first: the one made here a moment ago is of no use to anyone.
  if (created) for (const file of [keyFile, join(dir, PUBLIC_KEY_FILE)]) unlinkSync(file);
  throw new PdmError(
    'PDM_ERR_REGISTRY_KEY',
    `${keyFile} holds the key with fingerprint ${mine}, but the hub processes of this cluster sign models with ` +
      `${keyFingerprint(cluster)}: devices trust only that one; copy their key file here (mode 600)`,
  );
}
