import { api, type Device, type ModelEntry, type ModelRef, type Rollout, type TrainingJob } from '../api.js';
import { ago, h, replace } from '../dom.js';
import { ref, rolloutView, type RolloutActions } from './rollouts.js';

/**
 * Registered versions, which device runs which, rollouts step by step; a supervisor can abort a running rollout (its
 * devices go back to their previous model), approve one another supervisor started (rollouts.approvals: 2) or roll any
 * registered version out, e.g. an older one to roll back.
 */
export async function modelsPage(): Promise<HTMLElement> {
  const root = h('main', {});
  const draw = async (notice?: string): Promise<void> => {
    const [me, devices, registry, rollouts, jobs] = await Promise.all([
      api.me(),
      api.devices(),
      api.models(),
      api.rollouts(),
      api.trainingJobs(),
    ]);
    const supervisor = me?.role === 'supervisor';
    const act =
      <T>(work: () => Promise<T>, done?: string | ((result: T) => string)) =>
      () =>
        void work().then(
          (result) => draw(typeof done === 'function' ? done(result) : done),
          (error: Error) => draw(`Failed: ${error.message}`),
        );
    const actions: RolloutActions = {
      abort: (r) =>
        act(
          () => api.abortRollout(r.id, 'aborted from the dashboard'),
          r.stage === 'pending_approval'
            ? `Rollout of ${ref(r.model)} aborted before any device got it.`
            : 'Rollout aborted; its devices go back to their previous model.',
        ),
      approve: (r) =>
        act(() => api.approveRollout(r.id), `Rollout of ${ref(r.model)} approved; its canaries get it now.`),
      cancel: act(async () => undefined),
    };
    replace(
      root,
      h('h1', {}, 'Models'),
      notice ? h('p', { role: 'status' }, notice) : null,
      fleetTable(devices, registry.deployed),
      versionsTable(registry.models),
      h(
        'section',
        { 'aria-label': 'Rollouts' },
        h('h2', {}, 'Rollouts'),
        rollouts.length === 0 ? h('p', {}, 'No rollouts yet.') : null,
        ...[...rollouts].reverse().map((r) => rolloutView(r, me, actions)),
      ),
      trainingView(jobs),
      supervisor
        ? trainForm(devices, (device) =>
            act(() => api.train({ device }), `Training for ${device} queued; its status follows below.`)(),
          )
        : null,
      supervisor && registry.models.length > 0
        ? rolloutForm(registry.models, devices, (model, canaries, rest) =>
            act(
              () => api.startRollout(model, canaries, rest),
              (r: Rollout) =>
                r.stage === 'pending_approval'
                  ? `Rollout of ${ref(model)} proposed: it waits until another supervisor approves it.`
                  : `Rollout of ${ref(model)} started.`,
            )(),
          )
        : null,
    );
  };
  await draw();
  return root;
}

function fleetTable(devices: Device[], deployed: Record<string, ModelRef>): HTMLElement {
  const byVersion = new Map<string, string[]>();
  for (const d of devices) {
    const key = `${d.site}/${d.device}`;
    const version =
      deployed[key] && deployed[key].version === d.modelVersion ? ref(deployed[key]) : (d.modelVersion ?? 'unknown');
    byVersion.set(version, [...(byVersion.get(version) ?? []), key]);
  }
  return h(
    'table',
    { class: 'list', 'aria-label': 'Model versions in the fleet' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Model version'), h('th', {}, 'Devices'), h('th', {}, 'Count'))),
    h(
      'tbody',
      {},
      ...[...byVersion].map(([version, list]) =>
        h('tr', {}, h('td', {}, version), h('td', {}, list.join(', ')), h('td', {}, list.length)),
      ),
    ),
  );
}

function versionsTable(models: ModelEntry[]): HTMLElement {
  return h(
    'table',
    { class: 'list', 'aria-label': 'Registered model versions' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ...['Model', 'Version', 'Kind', 'Features', 'Threshold', 'Size', 'SHA-256', 'Added'].map((t) => h('th', {}, t)),
      ),
    ),
    h(
      'tbody',
      {},
      ...models.map((m) =>
        h(
          'tr',
          {},
          h('td', {}, m.modelId),
          h('td', {}, m.version),
          h('td', {}, m.kind),
          h('td', {}, m.features.length),
          h('td', {}, m.threshold),
          h('td', {}, `${m.size} B`),
          h('td', { title: m.sha256 }, `${m.sha256.slice(0, 12)}…`),
          h('td', {}, ago(m.addedAt)),
        ),
      ),
    ),
  );
}

function rolloutForm(
  models: ModelEntry[],
  devices: Device[],
  start: (model: ModelRef, canaries: string[], rest: string[]) => void,
): HTMLElement {
  const select = h(
    'select',
    { 'aria-label': 'Model version to roll out' },
    ...models.map((m, i) => h('option', { value: String(i) }, `${m.modelId} ${m.version}`)),
  );
  const rows = devices.map((d) => {
    const key = `${d.site}/${d.device}`;
    const group = h(
      'select',
      { 'aria-label': `Role of ${key} in the rollout` },
      h('option', { value: 'skip' }, 'not included'),
      h('option', { value: 'canary' }, 'canary'),
      h('option', { value: 'rest' }, 'after canaries'),
    );
    return { key, group };
  });
  const submit = (event: Event) => {
    event.preventDefault();
    const pick = (g: string) => rows.filter((r) => r.group.value === g).map((r) => r.key);
    start(models[Number(select.value)]!, pick('canary'), pick('rest'));
  };
  return h(
    'form',
    { 'aria-label': 'Start a rollout', onsubmit: submit },
    h('h2', {}, 'Roll out a version'),
    h(
      'p',
      {},
      'Canaries get it first; the rest only after every canary applied it and stayed healthy. Rolling out an older ' +
        'version is how to go back after a completed rollout.',
    ),
    h('label', {}, 'Version ', select),
    h('ul', {}, ...rows.map((r) => h('li', {}, h('label', {}, `${r.key} `, r.group)))),
    h('button', { type: 'submit' }, 'Start rollout'),
  );
}

/** Training jobs, newest first: what each learnt from (normal rows, rows confirmed normal by false alarms, fault rows). */
function trainingView(jobs: TrainingJob[]): HTMLElement {
  const outcome = (j: TrainingJob): string => {
    if (j.error) return `${j.error.code}: ${j.error.message}`;
    if (!j.result) return '';
    const s = j.result.summary;
    return (
      `${j.result.modelId} ${j.result.version} from ${s.normalRows} normal rows (${s.confirmedNormalRows} ` +
      `confirmed by false alarms), ${s.faultRows} fault rows`
    );
  };
  return h(
    'section',
    { 'aria-label': 'Training' },
    h('h2', {}, 'Training on the hub'),
    jobs.length === 0 ? h('p', {}, 'No training jobs yet.') : null,
    jobs.length === 0
      ? null
      : h(
          'table',
          { class: 'list', 'aria-label': 'Training jobs' },
          h('thead', {}, h('tr', {}, ...['Target', 'Status', 'By', 'Requested', 'Outcome'].map((t) => h('th', {}, t)))),
          h(
            'tbody',
            {},
            ...[...jobs]
              .sort((a, b) => b.createdAt - a.createdAt)
              .map((j) =>
                h(
                  'tr',
                  {},
                  h('td', {}, `${j.target.scope} ${j.target.name}`),
                  h('td', {}, j.status),
                  h('td', {}, j.requestedBy),
                  h('td', {}, ago(j.createdAt)),
                  h('td', {}, outcome(j)),
                ),
              ),
          ),
        ),
  );
}

function trainForm(devices: Device[], train: (device: string) => void): HTMLElement {
  const select = h(
    'select',
    { 'aria-label': 'Machine to train a model for' },
    ...devices.map((d) => h('option', { value: `${d.site}/${d.device}` }, `${d.site}/${d.device}`)),
  );
  const submit = (event: Event) => {
    event.preventDefault();
    train(select.value);
  };
  return h(
    'form',
    { 'aria-label': 'Train a model', onsubmit: submit },
    h(
      'p',
      {},
      'Trains a model for one machine from its logged telemetry: rows outside every inspection and watch, and rows of ' +
        'inspections resolved as false alarms, count as normal; rows of inspections resolved with a fault are kept out ' +
        'and measure detection. The new version is signed and registered, ready to roll out.',
    ),
    h('label', {}, 'Machine ', select),
    h('button', { type: 'submit' }, 'Train'),
  );
}
