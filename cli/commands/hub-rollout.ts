import type { Command } from 'commander';
import type { ResponseOf } from '../../hub/http/contract.js';
import { failing } from '../errors.js';
import { connectHub } from '../hub-client.js';

type Rollout = ResponseOf<'rollout'>;

const say = (line: string): boolean => process.stdout.write(`${line}\n`);

function show(r: Rollout): void {
  const applied = r.devices.filter((d) => d.status === 'applied').length;
  say(
    `${r.id}  ${r.model.modelId} ${r.model.version}  ${r.stage}  ${applied} of ${r.devices.length} applied` +
      `  started ${new Date(r.startedAt).toISOString()}${r.reason ? `  reason: ${r.reason}` : ''}`,
  );
}

function showSteps(r: Rollout): void {
  show(r);
  for (const d of r.devices)
    say(`  ${d.site}/${d.device} (${d.group}): ${d.status}${d.reason ? ` — ${d.reason}` : ''}`);
  for (const s of r.steps) say(`  ${new Date(s.at).toISOString()} ${s.step}${s.detail ? `: ${s.detail}` : ''}`);
}

interface HubOpts {
  url: string;
  user?: string;
}

/** `pdm hub rollout …`: staged model rollouts on a running hub, through its API (supervisor to change one). */
export function registerHubRollout(hub: Command): void {
  const rollout = hub
    .command('rollout')
    .description(
      'Model rollouts on a running hub: start, list, show, approve, abort (user from --user or PDM_HUB_USER, password in ' +
        'PDM_HUB_PASSWORD).',
    );
  const common = (c: Command) =>
    c
      .option('--url <url>', "the hub's HTTP address", 'http://127.0.0.1:8080')
      .option('-u, --user <name>', 'a user of the hub (default: PDM_HUB_USER)', process.env.PDM_HUB_USER);

  common(
    rollout
      .command('start <modelId> <version>')
      .description('Send a registered version to the canaries, then (after they apply it and soak) to the rest.')
      .requiredOption('--canary <site/device...>', 'canary devices')
      .option('--rest <site/device...>', 'the other devices', [])
      .option('--soak <seconds>', 'how long canaries run it before the rest get it')
      .option('--apply-timeout <seconds>', 'a device must apply it within this (default 600)'),
  ).action(
    failing(
      'hub rollout start',
      async (
        modelId: string,
        version: string,
        opts: HubOpts & { canary: string[]; rest: string[]; soak?: string; applyTimeout?: string },
      ) => {
        const client = await connectHub(opts.url, opts.user);
        const policy = {
          ...(opts.soak !== undefined ? { soakMs: Math.round(Number(opts.soak) * 1000) } : {}),
          ...(opts.applyTimeout !== undefined ? { applyTimeoutMs: Math.round(Number(opts.applyTimeout) * 1000) } : {}),
        };
        const r = await client.post<Rollout>('/api/rollouts', {
          modelId,
          version,
          canaries: opts.canary,
          rest: opts.rest,
          ...(Object.keys(policy).length ? { policy } : {}),
        });
        showSteps(r);
      },
    ),
  );
  common(rollout.command('list').description('Every rollout, newest last.')).action(
    failing('hub rollout list', async (opts: HubOpts) => {
      const all = await (await connectHub(opts.url, opts.user)).get<Rollout[]>('/api/rollouts');
      if (all.length === 0) say('no rollouts');
      for (const r of all) show(r);
    }),
  );
  common(rollout.command('show <id>').description('One rollout with its devices and steps.')).action(
    failing('hub rollout show', async (id: string, opts: HubOpts) => {
      showSteps(await (await connectHub(opts.url, opts.user)).get<Rollout>(`/api/rollouts/${id}`));
    }),
  );
  common(
    rollout
      .command('approve <id>')
      .description('Approve a rollout pending approval (rollouts.approvals: 2); not the supervisor who started it.'),
  ).action(
    failing('hub rollout approve', async (id: string, opts: HubOpts) => {
      showSteps(await (await connectHub(opts.url, opts.user)).post<Rollout>(`/api/rollouts/${id}/approve`, {}));
    }),
  );
  common(
    rollout
      .command('abort <id>')
      .description('Stop a rollout and send its devices back to their previous model.')
      .option('--reason <text>', 'why, kept in the rollout'),
  ).action(
    failing('hub rollout abort', async (id: string, opts: HubOpts & { reason?: string }) => {
      const client = await connectHub(opts.url, opts.user);
      showSteps(await client.post<Rollout>(`/api/rollouts/${id}/abort`, opts.reason ? { reason: opts.reason } : {}));
    }),
  );
}
