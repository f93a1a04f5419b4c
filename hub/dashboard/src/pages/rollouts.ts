import type { ModelRef, Rollout, User } from '../api.js';
import { ago, h, replace } from '../dom.js';

export const ref = (m: ModelRef | undefined): string => (m ? `${m.modelId} ${m.version}` : 'shipped model');
const isActive = (r: Rollout): boolean => r.stage === 'canary' || r.stage === 'fleet';
const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** What a rollout's buttons do; each returns the click handler. */
export interface RolloutActions {
  abort: (r: Rollout) => () => void;
  approve: (r: Rollout) => () => void;
  /** Drops a confirm step the user thought better of: the page draws itself again. */
  cancel: () => void;
}

/**
 * One rollout: its stage in words, devices and steps. Supervisors may abort it while it runs or waits; one who did not
 * start a rollout waiting for a second approval may approve it, after a confirm step naming what they approve.
 */
export function rolloutView(r: Rollout, me: User | undefined, actions: RolloutActions): HTMLElement {
  const applied = r.devices.filter((d) => d.status === 'applied').length;
  const pending = r.stage === 'pending_approval';
  const supervisor = me?.role === 'supervisor';
  return h(
    'article',
    { class: 'rollout', 'aria-label': `Rollout of ${ref(r.model)}` },
    h(
      'h3',
      { 'data-stage': r.stage },
      `${ref(r.model)}: ${stageWords(r)}`,
      pending
        ? ` ${ago(r.startedAt)} (${plural(r.devices.length, 'device')})`
        : ` (${applied} of ${r.devices.length} applied, started ${ago(r.startedAt)})`,
    ),
    r.approvedBy ? h('p', {}, `Approved by ${r.approvedBy} (started by ${r.createdBy ?? 'unknown'}).`) : null,
    r.reason ? h('p', {}, `Reason: ${r.reason}`) : null,
    h(
      'table',
      { class: 'list', 'aria-label': 'Devices in this rollout' },
      h('thead', {}, h('tr', {}, ...['Device', 'Group', 'Status', 'Previous', 'Reason'].map((t) => h('th', {}, t)))),
      h(
        'tbody',
        {},
        ...r.devices.map((d) =>
          h(
            'tr',
            {},
            h('td', {}, `${d.site}/${d.device}`),
            h('td', {}, d.group),
            h('td', {}, d.status),
            h('td', {}, ref(d.previous)),
            h('td', {}, d.reason ?? ''),
          ),
        ),
      ),
    ),
    h(
      'ol',
      { 'aria-label': 'Rollout steps' },
      ...r.steps.map((s) =>
        h('li', {}, `${new Date(s.at).toLocaleTimeString()} ${s.step}${s.detail ? `: ${s.detail}` : ''}`),
      ),
    ),
    // The registry refuses the starter's own approval (PDM_ERR_APPROVAL): no button that can only fail.
    supervisor && pending && me.username !== r.createdBy ? approval(r, actions) : null,
    supervisor && isActive(r)
      ? h('button', { type: 'button', onclick: actions.abort(r) }, 'Abort and roll back')
      : null,
    supervisor && pending
      ? h('button', { type: 'button', class: 'secondary', onclick: actions.abort(r) }, 'Abort (no device got it yet)')
      : null,
  );
}

/** The stage in words; a rollout failed on its time limit says so: "failed: not applied within 10 min". */
function stageWords(r: Rollout): string {
  if (r.stage === 'pending_approval')
    return `waiting for a second supervisor's approval, started by ${r.createdBy ?? 'unknown'}`;
  const stage = r.stage.replace('_', ' ');
  if (r.stage !== 'failed' || !/did not apply/.test(r.reason ?? '')) return stage;
  const ms = r.policy.applyTimeoutMs ?? 600_000;
  const limit = ms >= 60_000 ? `${+(ms / 60_000).toFixed(1)} min` : `${Math.round(ms / 1000)} s`;
  return `failed: not applied within ${limit}`;
}

/** "a/b, a/c and 12 more": a fleet-wide rollout still fits in a sentence. */
function named(keys: string[], max = 5): string {
  const shown = keys.slice(0, max).join(', ');
  return keys.length > max ? `${shown} and ${keys.length - max} more` : shown;
}

/** An "Approve" button that first asks, naming model, version and which devices get it when. */
function approval(r: Rollout, actions: RolloutActions): HTMLElement {
  const box = h('div', { class: 'approval' });
  const keys = (group: 'canary' | 'fleet') =>
    r.devices.filter((d) => d.group === group).map((d) => `${d.site}/${d.device}`);
  const [canaries, rest] = [keys('canary'), keys('fleet')];
  const confirm = (event: Event) => {
    (event.currentTarget as HTMLButtonElement).disabled = true;
    actions.approve(r)();
  };
  const ask = () => {
    // Marked as edited: a live update waits (and says so) instead of redrawing the question away.
    box.setAttribute('data-edited', '');
    replace(
      box,
      h(
        'div',
        { class: 'callout', role: 'group', 'aria-label': 'Confirm approval' },
        h('p', {}, `Approve the rollout of ${ref(r.model)} that ${r.createdBy ?? 'another supervisor'} started?`),
        h(
          'p',
          {},
          `${plural(canaries.length, 'canary', 'canaries')}, sent it as soon as you approve: ${named(canaries)}.`,
        ),
        rest.length > 0
          ? h(
              'p',
              {},
              `Then ${plural(rest.length, 'more device')}, once every canary applied it and stayed healthy: ` +
                `${named(rest)}.`,
            )
          : null,
        h('button', { type: 'button', onclick: confirm }, `Approve ${ref(r.model)}`),
        ' ',
        h('button', { type: 'button', class: 'secondary', onclick: actions.cancel }, 'Cancel'),
      ),
    );
  };
  replace(box, h('button', { type: 'button', onclick: ask }, 'Approve'));
  return box;
}
