import { api, type Inspection } from '../api.js';
import { ago, h } from '../dom.js';

const rank = (i: Inspection) => Number(i.priority.slice(1)) || 9;

const SORTS: Record<string, (a: Inspection, b: Inspection) => number> = {
  newest: (a, b) => b.createdAt - a.createdAt,
  oldest: (a, b) => a.createdAt - b.createdAt,
  priority: (a, b) => rank(a) - rank(b) || a.createdAt - b.createdAt,
  sla: (a, b) => (a.ackDueAt ?? Infinity) - (b.ackDueAt ?? Infinity),
};

/** The queue's filters and sort, kept across redraws (live updates, coming back to the page). */
const view: Record<string, string> = { sort: 'newest' };

function select(label: string, name: string, values: string[]): HTMLSelectElement {
  // A filter on a value no inspection has any more still shows, so the queue does not widen by itself.
  const shown = view[name] && !values.includes(view[name]) ? [...values, view[name]] : values;
  const control = h(
    'select',
    { name, 'aria-label': label, 'data-kept': true },
    ...shown.map((v) => h('option', { value: v, selected: v === (view[name] ?? '') }, v || `any ${name}`)),
  );
  control.addEventListener('change', () => (view[name] = control.value));
  return control;
}

/** The technicians' queue: filter by site, priority and state; sort by age, priority or SLA. */
export async function inspectionsPage(): Promise<HTMLElement> {
  const all = await api.inspections();
  const unique = (f: (i: Inspection) => string | undefined) =>
    ['', ...new Set(all.map(f).filter((v): v is string => !!v))].sort();
  const site = select(
    'Site',
    'site',
    unique((i) => i.site),
  );
  const priority = select(
    'Priority',
    'priority',
    unique((i) => i.priority),
  );
  const state = select(
    'State',
    'state',
    unique((i) => i.status),
  );
  const sort = select('Sort by', 'sort', Object.keys(SORTS));
  const body = h('tbody');
  const render = () => {
    const rows = all
      .filter((i) => (!site.value || i.site === site.value) && (!state.value || i.status === state.value))
      .filter((i) => !priority.value || i.priority === priority.value)
      .sort(SORTS[sort.value]);
    body.replaceChildren(...rows.map(row));
  };
  for (const control of [site, priority, state, sort]) control.addEventListener('change', render);
  render();
  return h(
    'main',
    {},
    h('h1', {}, 'Inspections'),
    h('div', { class: 'filters' }, site, priority, state, sort),
    h(
      'table',
      { class: 'list', 'aria-label': 'Inspections' },
      h(
        'thead',
        {},
        h('tr', {}, ...['Machine', 'Priority', 'State', 'Why', 'Assignee', 'Age', 'SLA'].map((t) => h('th', {}, t))),
      ),
      body,
    ),
  );
}

function row(i: Inspection): HTMLElement {
  const why = i.contributions[0];
  return h(
    'tr',
    { 'data-inspection': i.id },
    h('td', {}, h('a', { href: `#/inspection/${i.id}` }, `${i.site} / ${i.device}`)),
    h('td', {}, h('span', { class: `pill ${i.priority}` }, i.priority)),
    h('td', {}, h('span', { class: 'state' }, i.status)),
    h('td', {}, why ? `${why.feature} ${why.value.toFixed(2)} (threshold ${i.threshold})` : '–'),
    h('td', {}, i.assignee ?? '–'),
    h('td', {}, ago(i.createdAt)),
    h(
      'td',
      { class: i.ackDueAt && i.ackDueAt < Date.now() ? 'over' : '' },
      i.ackDueAt ? new Date(i.ackDueAt).toLocaleTimeString() : '–',
    ),
  );
}
