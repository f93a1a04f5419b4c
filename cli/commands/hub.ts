import { deviceClientId } from '../../protocol/device.js';
import type { Command } from 'commander';
import { loadHubConfig } from '../../config/index.js';
import type { IdentityStore } from '../../hub/auth/identities.js';
import { openIdentities } from '../../hub/store/shared/open.js';
import { ROLES, type Role } from '../../hub/inspections/roles.js';
import { runHub } from '../../hub/main.js';
import { keepPrivate } from '../../storage/private-dir.js';
import { resolve } from 'node:path';
import { fail, failing } from '../errors.js';
import { registerHubRollout } from './hub-rollout.js';
import { registerHubTrain } from './hub-train.js';
import { registerHubStore } from './hub-store.js';
import { shipped } from '../paths.js';

const say = (line: string): boolean => process.stdout.write(`${line}\n`);
const configOption = [
  '-c, --config <file>',
  'hub config (YAML); PDM_HUB_* variables override keys',
  shipped('hub.yaml'),
] as const;

async function identitiesFor(configFile: string): Promise<IdentityStore> {
  const cfg = loadHubConfig(configFile);
  const dataDir = resolve(cfg.dataDir);
  keepPrivate([dataDir]); // the identity file holds password hashes
  return openIdentities(cfg); // with cluster.mode shared: the database's
}

const iso = (ms: number | undefined): string => (ms === undefined ? '-' : new Date(ms).toISOString());

export function registerHub(program: Command): void {
  const hub = program
    .command('hub')
    .description('Run the hub: MQTT broker, ingest, inspections, HTTP API. Subcommands provision devices and users.')
    .option(...configOption)
    // `pdm hub --config F` runs the hub with F; `pdm hub device add … --config F` must reach `add`, not `hub`.
    .enablePositionalOptions()
    .action((opts: { config: string }) => runHub(opts.config).catch((error) => fail('hub', error)));

  const device = hub.command('device').description('Provision, list and revoke devices (MQTT credentials).');
  device
    .command('add <site> <device>')
    .description('Provision a device; prints its secret once (only a scrypt hash is stored).')
    .option(...configOption)
    .action(
      failing('hub device add', async (site: string, name: string, opts: { config: string }) => {
        const { username, secret } = await (await identitiesFor(opts.config)).addDevice(site, name);
        say(`device ${username} provisioned. Its secret is shown only now; the hub keeps only a scrypt hash.`);
        say(`  username: ${username}`);
        say(`  password: ${secret}`);
        say(
          `agent: set hub.username/hub.password, or PDM_AGENT_HUB_USERNAME=${username} PDM_AGENT_HUB_PASSWORD=<password>`,
        );
      }),
    );
  device
    .command('list')
    .description('List provisioned devices and whether they are revoked.')
    .option(...configOption)
    .action(
      failing('hub device list', async (opts: { config: string }) => {
        const devices = (await identitiesFor(opts.config)).listDevices();
        if (devices.length === 0) say('no devices provisioned; add one with `pdm hub device add SITE DEVICE`');
        for (const d of devices) {
          say(
            `${deviceClientId(d)}\t${d.revokedAt ? `revoked ${iso(d.revokedAt)}` : 'active'}\tadded ${iso(d.createdAt)}`,
          );
        }
      }),
    );
  device
    .command('revoke <site> <device>')
    .description('Revoke a device; a running hub disconnects it at once.')
    .option(...configOption)
    .action(
      failing('hub device revoke', async (site: string, name: string, opts: { config: string }) => {
        await (await identitiesFor(opts.config)).revokeDevice(site, name);
        say(`device ${deviceClientId(site, name)} revoked; a running hub disconnects it now and refuses its logins.`);
      }),
    );

  registerHubRollout(hub);
  registerHubStore(hub, configOption);
  registerHubTrain(hub);

  const user = hub.command('user').description('Users of the HTTP API (roles: viewer, technician, supervisor).');
  user
    .command('add <name>')
    .description('Add a user; prints a generated password once unless PDM_USER_PASSWORD gives one.')
    .requiredOption('-r, --role <role>', `one of ${ROLES.join(', ')}`)
    .option(...configOption)
    .action(
      failing('hub user add', async (name: string, opts: { config: string; role: string }) => {
        const given = process.env.PDM_USER_PASSWORD;
        const identities = await identitiesFor(opts.config);
        const added = await identities.addUser(name, opts.role as Role, given);
        say(`user ${name} (${opts.role}) added.`);
        if (!given) say(`  password: ${added.password}   (shown only now)`);
      }),
    );
  user
    .command('set-role <name> <role>')
    .description(`Change a user's role (${ROLES.join(', ')}); a running hub applies it to their open sessions at once.`)
    .option(...configOption)
    .action(
      failing('hub user set-role', async (name: string, role: string, opts: { config: string }) => {
        await (await identitiesFor(opts.config)).setUserRole(name, role as Role);
        say(`user ${name} is now ${role}.`);
      }),
    );
  user
    .command('reset-password <name>')
    .description(
      'Give a user a new password (generated and printed once unless PDM_USER_PASSWORD gives one); ends their sessions.',
    )
    .option(...configOption)
    .action(
      failing('hub user reset-password', async (name: string, opts: { config: string }) => {
        const given = process.env.PDM_USER_PASSWORD;
        const reset = await (await identitiesFor(opts.config)).resetUserPassword(name, given);
        say(`user ${name}: password changed; their sessions are ended.`);
        if (!given) say(`  password: ${reset.password}   (shown only now)`);
      }),
    );
  user
    .command('remove <name>')
    .description('Remove a user; a running hub ends their sessions at once.')
    .option(...configOption)
    .action(
      failing('hub user remove', async (name: string, opts: { config: string }) => {
        await (await identitiesFor(opts.config)).removeUser(name);
        say(`user ${name} removed.`);
      }),
    );
  user
    .command('list')
    .option(...configOption)
    .action(
      failing('hub user list', async (opts: { config: string }) => {
        for (const u of (await identitiesFor(opts.config)).listUsers())
          say(`${u.name}\t${u.role}\tadded ${iso(u.createdAt)}`);
      }),
    );
}
