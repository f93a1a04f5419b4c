import { createHash, timingSafeEqual } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PdmError } from '../../protocol/errors.js';
import { deviceClientId, deviceKey, ID_PATTERN } from '../../protocol/device.js';
import { DurableJsonFile, type DocumentAdapter } from '../store/durable-file.js';
import { ROLES, type Role } from '../inspections/roles.js';
import {
  defaultPasswordScrypt,
  DEVICE_SCRYPT,
  hashParams,
  hashSecret,
  newSecret,
  verifySecret,
  weakerThan,
  type ScryptParams,
} from './secrets.js';

export interface DeviceCredential {
  site: string;
  device: string;
  /** scrypt hash of the secret; the secret itself is printed once by `pdm hub device add` and never stored. */
  hash: string;
  createdAt: number;
  revokedAt?: number;
}

export interface UserRecord {
  name: string;
  role: Role;
  hash: string;
  createdAt: number;
  /** Sessions started before this (a password reset) are no longer valid. */
  sessionsValidFrom?: number;
}

export interface IdentityDocument {
  schema: 1;
  devices: Record<string, DeviceCredential>;
  users: Record<string, UserRecord>;
}

export const IDENTITY_FILE = 'identities.json';

/** A record's own entry only: names from the wire such as `constructor` or `__proto__` find nothing inherited. */
function own<T>(records: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(records, key) ? records[key] : undefined;
}

function checkPassword(password: string | undefined): void {
  if (password !== undefined && password.length < 12)
    throw new PdmError('PDM_ERR_BAD_REQUEST', 'a password must have at least 12 characters');
}

/**
 * Devices and users that may log in, kept in their own durable file beside the state so the CLI can provision
 * while the hub runs; the hub watches the file and re-reads it (a revocation then disconnects the device at once).
 */
export class IdentityStore {
  private doc: IdentityDocument = { schema: 1, devices: {}, users: {} };
  private watcher: FSWatcher | undefined;
  /**
   * Stored hash → SHA-256 of the secret that matched it: a fleet reconnecting at once would otherwise cost one
   * scrypt per device. A new secret or a revocation changes or bypasses the entry.
   */
  private readonly verified = new Map<string, Buffer>();
  /** Checks running now, so a burst of logins with one secret costs one scrypt, not one each. */
  private readonly checking = new Map<string, Promise<boolean>>();
  /** Hashes of a random secret (a device's, a person's), checked against when the account does not exist. */
  private readonly dummyHashes = new Map<ScryptParams, Promise<string>>();

  private poller: NodeJS.Timeout | undefined;

  private constructor(
    /** The folder to watch for a replaced file; undefined for a database document (see `poll`). */
    private readonly dataDir: string | undefined,
    private readonly file: DocumentAdapter<IdentityDocument>,
    private readonly now: () => number,
    private readonly passwordScrypt: ScryptParams,
  ) {}

  /** `passwordScrypt`: the cost of people's password hashes (OWASP's advice unless given). */
  static async open(
    dataDir: string,
    opts: { now?: () => number; passwordScrypt?: ScryptParams | undefined } = {},
  ): Promise<IdentityStore> {
    await mkdir(dataDir, { recursive: true });
    const file = new DurableJsonFile<IdentityDocument>(join(dataDir, IDENTITY_FILE));
    const params = opts.passwordScrypt ?? defaultPasswordScrypt();
    const store = new IdentityStore(dataDir, file, opts.now ?? Date.now, params);
    await store.reload();
    return store;
  }

  /**
   * Over a document several hub processes share (cluster.mode shared: a row of their database), so a user or device
   * added through any of them logs in at every one (each re-reads it: `poll`).
   */
  static async over(
    doc: DocumentAdapter<IdentityDocument>,
    opts: { now?: () => number; passwordScrypt?: ScryptParams | undefined } = {},
  ): Promise<IdentityStore> {
    const store = new IdentityStore(
      undefined,
      doc,
      opts.now ?? Date.now,
      opts.passwordScrypt ?? defaultPasswordScrypt(),
    );
    await store.reload();
    return store;
  }

  async reload(): Promise<void> {
    const doc = await this.file.read();
    this.doc = { schema: 1, devices: {}, users: {}, ...doc };
  }

  /** Calls `onChange` after the file was replaced by another process (or this one) and re-read. */
  watch(onChange: () => void, onError: (error: Error) => void): void {
    if (this.dataDir === undefined) return this.poll(2000, onChange, onError);
    let timer: NodeJS.Timeout | undefined;
    this.watcher = watch(this.dataDir, (_event, name) => {
      if (name !== IDENTITY_FILE) return;
      clearTimeout(timer);
      // Several events arrive for one atomic replace; read once they settle.
      timer = setTimeout(() => this.reload().then(onChange, onError), 20);
    });
    this.watcher.unref();
  }

  /** A database document has no file to watch: re-read every `ms`, and tell `onChange` when it changed. */
  private poll(ms: number, onChange: () => void, onError: (error: Error) => void): void {
    let last = JSON.stringify(this.doc);
    this.poller = setInterval(() => {
      this.reload().then(() => {
        const now = JSON.stringify(this.doc);
        if (now === last) return;
        last = now;
        onChange();
      }, onError);
    }, ms);
    this.poller.unref();
  }

  close(): void {
    this.watcher?.close();
    clearInterval(this.poller);
  }

  async addDevice(site: string, device: string): Promise<{ username: string; secret: string }> {
    for (const [what, value] of [
      ['site', site],
      ['device', device],
    ] as const) {
      if (!ID_PATTERN.test(value))
        throw new PdmError('PDM_ERR_BAD_REQUEST', `${what} id "${value}" must match ${ID_PATTERN}`);
    }
    await this.reload();
    const username = deviceClientId(site, device);
    const existing = own(this.doc.devices, username);
    if (existing && !existing.revokedAt) {
      throw new PdmError(
        'PDM_ERR_IDENTITY_EXISTS',
        `device ${username} is already provisioned; revoke it first to issue a new secret`,
      );
    }
    const secret = newSecret();
    this.doc.devices[username] = { site, device, hash: await hashSecret(secret, DEVICE_SCRYPT), createdAt: this.now() };
    await this.file.write(this.doc);
    return { username, secret };
  }

  async revokeDevice(site: string, device: string): Promise<DeviceCredential> {
    await this.reload();
    const username = deviceClientId(site, device);
    const found = own(this.doc.devices, username);
    if (!found) throw new PdmError('PDM_ERR_IDENTITY_UNKNOWN', `device ${username} was never provisioned`);
    found.revokedAt ??= this.now();
    await this.file.write(this.doc);
    return found;
  }

  listDevices(): DeviceCredential[] {
    return Object.values(this.doc.devices).sort((a, b) => deviceKey(a).localeCompare(deviceKey(b)));
  }

  /** Whether this client id belongs to a provisioned, unrevoked device. */
  isActiveDevice(clientId: string): boolean {
    const found = own(this.doc.devices, clientId);
    return !!found && !found.revokedAt;
  }

  /** Whether the device may log in at all (for a client certificate, which proves who it is but not that it is current). */
  async activeDevice(clientId: string): Promise<boolean> {
    if (!this.isActiveDevice(clientId)) await this.reload();
    return this.isActiveDevice(clientId);
  }

  async verifyDevice(username: string, secret: string): Promise<DeviceCredential | undefined> {
    // A device provisioned a moment ago may beat the file watcher here; one re-read settles it (failures are rate-limited).
    if (!own(this.doc.devices, username)) await this.reload();
    const found = own(this.doc.devices, username);
    if (!found || found.revokedAt) return this.missed(secret, DEVICE_SCRYPT);
    const digest = createHash('sha256').update(secret).digest();
    const known = this.verified.get(found.hash);
    if (known && timingSafeEqual(known, digest)) return found;
    const key = `${found.hash}|${digest.toString('base64')}`;
    let check = this.checking.get(key);
    if (!check) {
      check = verifySecret(secret, found.hash).finally(() => this.checking.delete(key));
      this.checking.set(key, check);
    }
    if (!(await check)) return undefined;
    this.verified.set(found.hash, digest);
    return found;
  }

  async addUser(name: string, role: Role, password?: string): Promise<{ name: string; password: string }> {
    if (!ID_PATTERN.test(name))
      throw new PdmError('PDM_ERR_BAD_REQUEST', `user name "${name}" must match ${ID_PATTERN}`);
    if (!ROLES.includes(role))
      throw new PdmError('PDM_ERR_BAD_REQUEST', `role "${role}" must be one of ${ROLES.join(', ')}`);
    checkPassword(password);
    await this.reload();
    if (own(this.doc.users, name)) throw new PdmError('PDM_ERR_IDENTITY_EXISTS', `user ${name} exists`);
    const secret = password ?? newSecret();
    this.doc.users[name] = { name, role, hash: await hashSecret(secret, this.passwordScrypt), createdAt: this.now() };
    await this.file.write(this.doc);
    return { name, password: secret };
  }

  /** What a login session needs of its user now: the role, and since when sessions count; undefined for no such user. */
  sessionUser(name: string): { role: Role; sessionsValidFrom: number } | undefined {
    if (!Object.hasOwn(this.doc.users, name)) return undefined;
    const user = this.doc.users[name]!;
    return { role: user.role, sessionsValidFrom: user.sessionsValidFrom ?? 0 };
  }

  async removeUser(name: string): Promise<void> {
    await this.reload();
    this.user(name);
    delete this.doc.users[name];
    await this.file.write(this.doc);
  }

  async setUserRole(name: string, role: Role): Promise<void> {
    if (!ROLES.includes(role))
      throw new PdmError('PDM_ERR_BAD_REQUEST', `role "${role}" must be one of ${ROLES.join(', ')}`);
    await this.reload();
    this.user(name).role = role;
    await this.file.write(this.doc);
  }

  /** A new password (generated unless given); every session the user had ends. */
  async resetUserPassword(name: string, password?: string): Promise<{ name: string; password: string }> {
    checkPassword(password);
    await this.reload();
    const user = this.user(name);
    const secret = password ?? newSecret();
    user.hash = await hashSecret(secret, this.passwordScrypt);
    user.sessionsValidFrom = this.now();
    await this.file.write(this.doc);
    return { name, password: secret };
  }

  private user(name: string): UserRecord {
    if (!Object.hasOwn(this.doc.users, name)) throw new PdmError('PDM_ERR_IDENTITY_UNKNOWN', `no user ${name}`);
    return this.doc.users[name]!;
  }

  listUsers(): Array<Omit<UserRecord, 'hash'>> {
    return Object.values(this.doc.users).map(({ name, role, createdAt }) => ({ name, role, createdAt }));
  }

  /** A correct password whose hash is cheaper than the configured cost is hashed anew and stored before the answer. */
  async verifyUser(name: string, password: string): Promise<UserRecord | undefined> {
    const found = own(this.doc.users, name);
    if (!found) return this.missed(password, this.passwordScrypt);
    if (!(await verifySecret(password, found.hash))) return undefined;
    const params = hashParams(found.hash);
    return params && weakerThan(params, this.passwordScrypt) ? this.rehash(found, password) : found;
  }

  private async rehash(found: UserRecord, password: string): Promise<UserRecord> {
    const hash = await hashSecret(password, this.passwordScrypt);
    await this.reload();
    const user = own(this.doc.users, found.name);
    // Another process changed the password (or removed the user) meanwhile: theirs stands.
    if (!user || user.hash !== found.hash) return found;
    user.hash = hash;
    await this.file.write(this.doc);
    return user;
  }

  /** No such account: the answer still costs one scrypt, so its timing does not tell whether the account exists. */
  private async missed(secret: string, params: ScryptParams): Promise<undefined> {
    let dummy = this.dummyHashes.get(params);
    if (!dummy) this.dummyHashes.set(params, (dummy = hashSecret(newSecret(), params)));
    await verifySecret(secret, await dummy);
    return undefined;
  }
}
