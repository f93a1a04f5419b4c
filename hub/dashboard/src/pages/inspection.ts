import { api, type Inspection, type User } from '../api.js';
import { ScoreChart, markerLegend } from '../chart.js';
import { ago, h, words } from '../dom.js';
import { featureValue, healthLine, type Health } from '../health.js';
import { patch } from '../patch.js';
import { spectrumChart } from '../spectrum-chart.js';
import type { View } from '../view.js';
import { openedAt } from './machine.js';

export const OUTCOMES = [
  'bearing',
  'imbalance',
  'misalignment',
  'looseness',
  'cavitation',
  'overheating',
  'sensor',
  'other',
];

type Transition = Parameters<typeof api.transition>[1];

/** Why a machine was flagged, and the technician's actions on it; every action goes through the API. */
export async function inspectionPage(id: string, user: User): Promise<View> {
  const chart = new ScoreChart('Score around the event');
  const summary = h('div');
  const reason = h('div');
  const actions = h('section', { class: 'actions', 'aria-label': 'Actions' });
  const comments = h('section', { 'aria-label': 'Comments' });
  const audit = h('section', { 'aria-label': 'Audit trail' });
  const status = h('p', { class: 'error', role: 'alert' });
  const title = h('h1');
  let shownActions = '';
  let inspection: Inspection;

  /** Runs one action; on success the page re-reads and the action form starts afresh. */
  const act = (work: Promise<unknown>) =>
    void work.then(
      () => ((status.textContent = ''), load(true)),
      (e: Error) => (status.textContent = e.message),
    );

  const load = async (acted = false): Promise<void> => {
    const [one, devices] = await Promise.all([api.inspection(id), api.devices()]);
    inspection = one;
    const i = inspection;
    const machine = devices.find((d) => d.site === i.site && d.device === i.device);
    title.textContent = `${i.site} / ${i.device}`;
    patch(summary, summaryOf(i, machine?.health));
    patch(reason, reasonOf(i));
    patch(comments, commentsOf(i));
    patch(audit, auditOf(i));
    // The action form is rebuilt only when what can be done changed, and never under someone filling it in.
    const key = JSON.stringify([i.status, i.assignee, i.actions]);
    if (acted || (key !== shownActions && !editing(actions))) {
      shownActions = key;
      actions.replaceChildren(...(user.role === 'viewer' ? [viewerNote()] : actionsOf(i, user, act)));
    } else if (key !== shownActions && !actions.querySelector('.held')) {
      actions.prepend(
        h(
          'p',
          { class: 'held', role: 'status' },
          'This inspection changed meanwhile; what you can do here may differ.',
        ),
      );
    }
    api.scores(i.site, i.device, { from: i.createdAt - 15 * 60_000 }).then(
      (series) =>
        series.t.length ? chart.show(series, [{ at: openedAt(i), kind: 'opened' }]) : chart.empty('No scores yet.'),
      () => chart.empty('No score history available.'),
    );
  };
  await load();
  // The opening event's spectrum never changes: drawn once.
  const opened = inspection!.spectrum;
  const spectrum = opened ? spectrumChart(opened, opened.unit) : undefined;
  const root = h(
    'main',
    {},
    h('p', {}, h('a', { href: '#/inspections' }, '← Inspections')),
    title,
    summary,
    h('section', { 'aria-label': 'Why it was raised' }, h('h2', {}, 'Why'), reason, chart.element, markerLegend()),
    spectrum
      ? h(
          'section',
          { 'aria-label': 'Spectrum', 'data-keep': true },
          h('h2', {}, 'Spectrum at the event'),
          spectrum.element,
        )
      : null,
    actions,
    status,
    comments,
    audit,
  );
  return {
    title: `${inspection!.device} · Inspection`,
    root,
    refresh: () => load(),
    dispose: () => {
      chart.destroy();
      spectrum?.destroy();
    },
  };
}

const editing = (section: Element): boolean =>
  section.querySelector('[data-edited]') !== null || section.contains(document.activeElement);

function summaryOf(i: Inspection, health: Health | undefined): HTMLElement {
  const machine = `#/machine/${encodeURIComponent(i.site)}/${encodeURIComponent(i.device)}`;
  return h(
    'div',
    {},
    h(
      'p',
      {},
      h('span', { class: `pill ${i.priority}` }, i.priority),
      ' ',
      h('span', { class: 'state', 'data-testid': 'state' }, words(i.status)),
      ` · opened ${ago(i.createdAt)}`,
      i.assignee ? ` · assigned to ${i.assignee}` : ' · nobody assigned yet',
      i.outcome ? ` · outcome: ${words(i.outcome.label)}` : '',
    ),
    i.origin === 'follow_up'
      ? h('p', { class: 'callout' }, 'Follow-up: the machine stayed in alarm after an earlier inspection was resolved.')
      : null,
    health ? healthLine(health) : null,
    h('p', {}, h('a', { href: machine }, `Machine ${i.site} / ${i.device}: trends and history →`)),
  );
}

function reasonOf(i: Inspection): HTMLElement {
  return h(
    'div',
    {},
    h('p', { class: 'reason' }, i.reason),
    h(
      'p',
      { class: 'muted' },
      `Anomaly score ${i.score.toFixed(2)} against a limit of ${i.threshold} (model ${i.model.id} ${i.model.version}).`,
    ),
    h(
      'ul',
      { class: 'bars', 'aria-label': 'Top contributing features' },
      ...i.contributions.map((c) =>
        h(
          'li',
          {},
          h('span', { class: 'bar', style: `width:${Math.round(c.share * 100)}%` }),
          ` ${c.label}: ${featureValue(c)}, ${Math.round(c.share * 100)}% of the score`,
        ),
      ),
    ),
  );
}

function commentsOf(i: Inspection): HTMLElement {
  return h(
    'section',
    { 'aria-label': 'Comments' },
    h('h2', {}, 'Comments'),
    ...i.comments.map((c) =>
      h('p', { class: 'comment', 'data-key': c.id }, h('b', {}, c.by), ` ${new Date(c.at).toLocaleString()}: `, c.text),
    ),
  );
}

function auditOf(i: Inspection): HTMLElement {
  return h(
    'section',
    { 'aria-label': 'Audit trail' },
    h('h2', {}, 'Audit trail'),
    h(
      'ol',
      { class: 'audit' },
      ...i.audit.map((a) =>
        h(
          'li',
          {},
          `${new Date(a.at).toLocaleString()} ${a.by}: ` +
            `${words(a.action)}${a.from ? ` (${words(a.from)} → ${words(a.to)})` : ''}${a.note ? ` — ${a.note}` : ''}`,
        ),
      ),
    ),
  );
}

const viewerNote = () => h('p', { class: 'muted' }, 'Viewers can look but not act.');

function actionsOf(i: Inspection, user: User, act: (p: Promise<unknown>) => void): HTMLElement[] {
  const allowed = new Set<string>(i.actions ?? []);
  const run = (action: Transition, extra: Record<string, string> = {}) => act(api.transition(i.id, action, extra));
  const button = (action: string, label: string, onclick: () => void) =>
    allowed.has(action) ? h('button', { type: 'button', onclick }, label) : null;
  const out: HTMLElement[] = [h('h2', {}, 'Actions')];
  if (allowed.size === 0) out.push(h('p', { class: 'muted' }, 'Nothing to do here for your role in this state.'));
  const first = [
    button('acknowledge', 'Acknowledge', () => run('acknowledge')),
    button('take', 'Assign to me', () => run('take')),
    button('start', 'Start work', () => run('start')),
  ];
  if (first.some(Boolean)) out.push(h('div', { class: 'row' }, ...first));
  if (allowed.has('assign')) {
    const assignee = h('input', {
      name: 'assignee',
      'aria-label': 'Assignee',
      placeholder: 'technician (empty: next in rota)',
    });
    out.push(
      h(
        'div',
        { class: 'row' },
        assignee,
        h(
          'button',
          { type: 'button', onclick: () => run('assign', assignee.value ? { assignee: assignee.value } : {}) },
          'Assign',
        ),
        allowed.has('take')
          ? null
          : h('button', { type: 'button', onclick: () => run('assign', { assignee: user.username }) }, 'Assign to me'),
      ),
    );
  }
  if (allowed.has('resolve')) out.push(resolveForm(run));
  if (allowed.has('false_alarm')) out.push(falseAlarm(run));
  const comment = h('textarea', { name: 'comment', 'aria-label': 'Comment', rows: 2 });
  out.push(
    h(
      'div',
      { class: 'row' },
      comment,
      h('button', { type: 'button', onclick: () => act(api.comment(i.id, comment.value)) }, 'Add comment'),
    ),
  );
  return out;
}

/** Resolving needs the fault found, chosen on purpose (nothing is pre-selected); the note is optional. */
function resolveForm(run: (action: Transition, extra?: Record<string, string>) => void): HTMLElement {
  const outcome = h(
    'select',
    { name: 'outcome', id: 'outcome', required: true },
    h('option', { value: '', selected: true }, 'Choose what you found…'),
    ...OUTCOMES.map((o) => h('option', { value: o }, words(o))),
  );
  const note = h('textarea', { name: 'note', id: 'note', rows: 2, maxlength: 2000 });
  const problem = h('p', { class: 'error', role: 'alert' });
  outcome.addEventListener('change', () => (problem.textContent = ''));
  return h(
    'form',
    {
      class: 'card resolve',
      'aria-label': 'Resolve',
      novalidate: true,
      onsubmit: (event: Event) => {
        event.preventDefault();
        if (!outcome.value) {
          problem.textContent = 'Choose what you found before resolving.';
          return outcome.focus();
        }
        run('resolve', { outcome: outcome.value, ...(note.value.trim() ? { note: note.value.trim() } : {}) });
      },
    },
    h('label', { for: 'outcome' }, 'Outcome'),
    outcome,
    h('label', { for: 'note' }, 'Note (optional)'),
    note,
    problem,
    h('button', { type: 'submit' }, 'Resolve'),
  );
}

/** "False alarm" closes the inspection for good, so it asks once more before doing it. */
function falseAlarm(run: (action: Transition) => void): HTMLElement {
  const box = h('div', { class: 'row' });
  const ask = () =>
    box.replaceChildren(
      h('span', {}, 'Close this inspection as a false alarm?'),
      h('button', { type: 'button', class: 'danger', onclick: () => run('false_alarm') }, 'Yes, it is a false alarm'),
      h('button', { type: 'button', class: 'secondary', onclick: () => box.replaceChildren(first) }, 'Cancel'),
    );
  const first = h('button', { type: 'button', class: 'secondary', onclick: ask }, 'False alarm');
  box.append(first);
  return box;
}
