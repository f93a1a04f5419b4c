import { api, type Inspection, type User } from '../api.js';
import { scoreChart } from '../chart.js';
import { h, replace } from '../dom.js';

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

/** Why a machine was flagged, and the technician's actions on it; every action goes through the API. */
export async function inspectionPage(id: string, user: User, refresh: () => void): Promise<HTMLElement> {
  const inspection = await api.inspection(id);
  const chart = h('div', { class: 'chart', 'aria-label': 'Score around the event' });
  api.scores(inspection.site, inspection.device).then(
    (series) => series.t.length && scoreChart(chart, series, inspection.createdAt),
    () => replace(chart, h('p', { class: 'muted' }, 'No score history available.')),
  );
  const status = h('p', { class: 'error', role: 'alert' });
  const act = (promise: Promise<unknown>) => promise.then(refresh, (e: Error) => (status.textContent = e.message));
  return h(
    'main',
    {},
    h('p', {}, h('a', { href: '#/inspections' }, '← Inspections')),
    h('h1', {}, `${inspection.site} / ${inspection.device}`),
    h(
      'p',
      {},
      h('span', { class: `pill ${inspection.priority}` }, inspection.priority),
      ' ',
      h('span', { class: 'state', 'data-testid': 'state' }, inspection.status),
      inspection.assignee ? ` · assigned to ${inspection.assignee}` : '',
      inspection.outcome ? ` · outcome: ${inspection.outcome.label}` : '',
    ),
    h('section', { 'aria-label': 'Why it was raised' }, h('h2', {}, 'Why'), why(inspection), chart),
    user.role === 'viewer' ? h('p', { class: 'muted' }, 'Viewers can look but not act.') : actions(inspection, act),
    status,
    h(
      'section',
      { 'aria-label': 'Comments' },
      h('h2', {}, 'Comments'),
      ...inspection.comments.map((c) =>
        h('p', { class: 'comment' }, h('b', {}, c.by), ` ${new Date(c.at).toLocaleString()}: `, c.text),
      ),
    ),
    h(
      'section',
      { 'aria-label': 'Audit trail' },
      h('h2', {}, 'Audit trail'),
      h(
        'ol',
        { class: 'audit' },
        ...inspection.audit.map((a) =>
          h(
            'li',
            {},
            `${new Date(a.at).toLocaleString()} ${a.by}: ` +
              `${a.action}${a.from ? ` (${a.from} → ${a.to})` : ''}${a.note ? ` — ${a.note}` : ''}`,
          ),
        ),
      ),
    ),
  );
}

function why(i: Inspection): HTMLElement {
  return h(
    'div',
    {},
    h(
      'p',
      {},
      `Score ${i.score.toFixed(2)} against threshold ${i.threshold} (model ${i.model.id} ${i.model.version}).`,
    ),
    h(
      'ul',
      { class: 'bars', 'aria-label': 'Top contributing features' },
      ...i.contributions.map((c) =>
        h(
          'li',
          {},
          h('span', { class: 'bar', style: `width:${Math.round(c.share * 100)}%` }),
          ` ${c.feature} = ${c.value.toFixed(3)} (${Math.round(c.share * 100)}%)`,
        ),
      ),
    ),
  );
}

function actions(i: Inspection, act: (p: Promise<unknown>) => void): HTMLElement {
  const allowed = new Set<string>(i.actions ?? []);
  const assignee = h('input', {
    name: 'assignee',
    'aria-label': 'Assignee',
    placeholder: 'technician (empty: next in rota)',
  });
  const outcome = h(
    'select',
    { name: 'outcome', 'aria-label': 'Outcome' },
    ...OUTCOMES.map((o) => h('option', { value: o }, o)),
  );
  const comment = h('textarea', { name: 'comment', 'aria-label': 'Comment', rows: 2 });
  const button = (action: string, label: string, run: () => Promise<unknown>) =>
    allowed.has(action) ? h('button', { type: 'button', onclick: () => act(run()) }, label) : null;
  const assign = button('assign', 'Assign', () =>
    api.transition(i.id, 'assign', assignee.value ? { assignee: assignee.value } : {}),
  );
  const resolve = button('resolve', 'Resolve', () => api.transition(i.id, 'resolve', { outcome: outcome.value }));
  return h(
    'section',
    { class: 'actions', 'aria-label': 'Actions' },
    h('h2', {}, 'Actions'),
    allowed.size === 0 ? h('p', { class: 'muted' }, 'Nothing to do here for your role in this state.') : null,
    h(
      'div',
      { class: 'row' },
      button('acknowledge', 'Acknowledge', () => api.transition(i.id, 'acknowledge')),
      button('start', 'Start work', () => api.transition(i.id, 'start')),
    ),
    assign ? h('div', { class: 'row' }, assignee, assign) : null,
    h(
      'div',
      { class: 'row' },
      resolve ? [outcome, resolve] : null,
      button('false_alarm', 'False alarm', () => api.transition(i.id, 'false_alarm')),
    ),
    h(
      'div',
      { class: 'row' },
      comment,
      h('button', { type: 'button', onclick: () => act(api.comment(i.id, comment.value)) }, 'Add comment'),
    ),
  );
}
