import type { Command } from 'commander';
import { PdmError } from '../../protocol/errors.js';
import { fail } from '../errors.js';

const say = (line: string): boolean => process.stdout.write(`${line}\n`);

interface TrainOpts {
  url: string;
  user?: string;
  device?: string;
  kind?: string;
  from?: string;
  to?: string;
  timeout: string;
}

interface Job {
  id: string;
  status: string;
  ms?: number;
  result?: {
    modelId: string;
    version: string;
    sha256: string;
    summary: Record<string, unknown>;
    metrics: Record<string, number>;
  };
  error?: { code: string; message: string };
}

function epochOf(what: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms))
    throw new PdmError('PDM_ERR_BAD_REQUEST', `--${what} "${value}": expected an ISO time or epoch milliseconds`);
  return ms;
}

async function call(url: string, init: RequestInit): Promise<unknown> {
  const res = await fetch(url, init);
  const body = (await res.json().catch(() => ({}))) as { error?: string; message?: string };
  if (!res.ok)
    throw new Error(
      `${init.method ?? 'GET'} ${new URL(url).pathname}: HTTP ${res.status} ${body.error ?? ''} ${body.message ?? ''}`.trim(),
    );
  return body;
}

/** `pdm hub train`: asks a running hub to train (POST /api/models/train as a supervisor) and waits for the job. */
async function train(opts: TrainOpts): Promise<void> {
  // From the environment only: a password on the command line ends up in shell history and `ps`.
  if (!opts.user)
    throw new PdmError(
      'PDM_ERR_BAD_REQUEST',
      'name a supervisor of the hub with --user or PDM_HUB_USER (pdm demo prints its supervisor, demo)',
    );
  const password = process.env.PDM_HUB_PASSWORD;
  if (!password)
    throw new PdmError('PDM_ERR_BAD_REQUEST', 'set PDM_HUB_PASSWORD to the password of --user (a supervisor)');
  const base = opts.url.replace(/\/$/, '');
  const login = await fetch(`${base}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: opts.user, password }),
  });
  if (!login.ok) throw new Error(`login as ${opts.user}: HTTP ${login.status}`);
  const { csrfToken } = (await login.json()) as { csrfToken: string };
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
  const from = epochOf('from', opts.from);
  const to = epochOf('to', opts.to);
  const body = {
    ...(opts.device ? { device: opts.device } : {}),
    ...(opts.kind ? { kind: opts.kind } : {}),
    ...(from !== undefined ? { from } : {}),
    ...(to !== undefined ? { to } : {}),
  };
  let job = (await call(`${base}/api/models/train`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': csrfToken },
    body: JSON.stringify(body),
  })) as Job;
  say(`training job ${job.id} queued`);
  const deadline = Date.now() + Number(opts.timeout) * 1000;
  while (job.status === 'queued' || job.status === 'running') {
    if (Date.now() > deadline)
      throw new Error(
        `job ${job.id} still ${job.status} after ${opts.timeout} s; ask GET /api/models/train/${job.id} later`,
      );
    await new Promise((resolve) => setTimeout(resolve, 500));
    job = (await call(`${base}/api/models/train/${job.id}`, { headers: { cookie } })) as Job;
  }
  if (job.status === 'failed')
    throw new Error(`${job.error?.message ?? 'training failed'} [${job.error?.code ?? '?'}]`);
  const r = job.result!;
  say(`registered ${r.modelId} ${r.version} (sha256 ${r.sha256.slice(0, 12)}..., signed by the hub) in ${job.ms} ms`);
  for (const key of [
    'devices',
    'from',
    'to',
    'normalRows',
    'confirmedNormalRows',
    'fittedRows',
    'faultRows',
    'excludedRows',
    'faultLabels',
  ])
    say(`  ${key}: ${String(r.summary[key])}`);
  for (const [key, value] of Object.entries(r.metrics)) say(`  ${key}: ${value}`);
  say(
    `roll it out: POST /api/rollouts { "modelId": "${r.modelId}", "version": "${r.version}", "canaries": ["site/device"] }`,
  );
}

export function registerHubTrain(hub: Command): void {
  hub
    .command('train')
    .description(
      'On a running hub: train a model from its telemetry log and inspection outcomes and register it (supervisor ' +
        'named by --user or PDM_HUB_USER, password in PDM_HUB_PASSWORD). Not `pdm train`, which builds the shipped ' +
        'default models offline.',
    )
    .option('--device <site/device>', "one device's own model")
    .option('--kind <kind>', 'one model for a machine kind (hub config training.kinds)')
    .option('--from <time>', 'first row (device time, ISO or epoch ms)')
    .option('--to <time>', 'last row (device time, ISO or epoch ms)')
    .option('--url <url>', "the hub's HTTP address", 'http://127.0.0.1:8080')
    .option('-u, --user <name>', 'a supervisor of the hub (default: PDM_HUB_USER)', process.env.PDM_HUB_USER)
    .option('--timeout <seconds>', 'how long to wait for the job', '600')
    .action((opts: TrainOpts) => train(opts).catch((error) => fail('hub train', error)));
}
