import { api, type Device, type Inspection } from '../api.js';
import { ago, cell, due, h, words } from '../dom.js';
import { healthPill } from '../health.js';
import { patch } from '../patch.js';
import type { View } from '../view.js';
import { OPEN } from './fleet.js';

const rank = (i: Inspection) => Number(i.priority.slice(1)) || 9;
const dueAt = (i: Inspection) => i.ackDueAt ?? Infinity;

const SORTS: Record<string, [string, (a: Inspection, b: Inspection) => number]> = {
  priority: ['priority, then due', (a, b) => rank(a) - rank(b) || dueAt(a) - dueAt(b) || a.createdAt - b.createdAt],
  due: ['due first', (a, b) => dueAt(a) - dueAt(b) || rank(a) - rank(b)],
  newest: ['newest', (a, b) => b.createdAt - a.createdAt],
  oldest: ['oldest', (a, b) => a.createdAt - b.createdAt],
};

/** Which inspections a state choice shows: the active ones by default, the closed ones only when asked. */
const STATES: Record<string, (i: Inspection) => boolean> = {
  active: (i) => OPEN.has(i.status),
  closed: (i) => !OPEN.has(i.status),
  all: () => true,
};

/** The queue's filters and sort, kept across visits to the page. */
const view: Record<string, string> = { sort: 'priority', state: 'active' };

/** A filter whose choices follow the data; a chosen value no inspection has any more stays, so the queue does not widen. */
function select(
  label: string,
  name: string,
  fixed: Array<[string, string]>,
): {
  control: HTMLSelectElement;
  offer: (values: string[]) => void;
} {
  const control = h('select', { name, 'aria-label': label, 'data-kept': true });
  control.addEventListener('change', () => (view[name] = control.value));
  const offer = (values: string[]) => {
    const chosen = view[name] ?? '';
    const shown = [...fixed, ...values.filter((v) => !fixed.some(([f]) => f === v)).map((v) => [v, words(v)])];
    if (!shown.some(([v]) => v === chosen)) shown.push([chosen, words(chosen)]);
    patch(
      control,
      h(
        'select',
        { name, 'aria-label': label, 'data-kept': true },
        ...shown.map(([v, text]) => h('option', { value: v, selected: v === chosen }, text)),
      ),
    );
    control.value = chosen;
  };
  return { control, offer };
}

/** The technicians' queue: active items by priority and due time; filters for site, priority and state. */
export async function inspectionsPage(): Promise<View> {
  let all: Inspection[] = [];
  let health = new Map<string, Device['health']>();
  const site = select('Site', 'site', [['', 'any site']]);
  const priority = select('Priority', 'priority', [['', 'any priority']]);
  const state = select('State', 'state', [
    ['active', 'active'],
    ['closed', 'closed'],
    ['all', 'any state'],
  ]);
  const sort = select(
    'Sort by',
    'sort',
    Object.entries(SORTS).map(([k, [text]]) => [k, text]),
  );
  const body = h('tbody');
  const draw = () => {
    const unique = (f: (i: Inspection) => string) => [...new Set(all.map(f))].sort();
    site.offer(unique((i) => i.site));
    priority.offer(unique((i) => i.priority));
    state.offer(unique((i) => i.status));
    sort.offer([]);
    const chosen = view.state ?? 'active';
    const rows = all
      .filter((i) => (!view.site || i.site === view.site) && (!view.priority || i.priority === view.priority))
      .filter(STATES[chosen] ?? ((i) => i.status === chosen))
      .sort((SORTS[view.sort ?? 'priority'] ?? SORTS.priority!)[1]);
    const now = Date.now();
    patch(
      body,
      h(
        'tbody',
        {},
        ...rows.map((i) => row(i, health.get(`${i.site}/${i.device}`), now)),
        rows.length ? null : h('tr', {}, h('td', { colspan: COLUMNS.length, class: 'muted' }, 'Nothing here.')),
      ),
    );
  };
  for (const { control } of [site, priority, state, sort]) control.addEventListener('change', draw);
  const refresh = async () => {
    const [inspections, devices] = await Promise.all([api.inspections(), api.devices()]);
    all = inspections;
    health = new Map(devices.map((d) => [`${d.site}/${d.device}`, d.health]));
    draw();
  };
  await refresh();
  const root = h(
    'main',
    {},
    h('h1', {}, 'Inspections'),
    h('div', { class: 'filters' }, site.control, priority.control, state.control, sort.control),
    h(
      'table',
      { class: 'list', 'aria-label': 'Inspections' },
      h('thead', {}, h('tr', {}, ...COLUMNS.map((t) => h('th', {}, t)))),
      body,
    ),
  );
  return { title: 'Inspections', root, refresh };
}

const COLUMNS = ['Machine', 'Health', 'Priority', 'State', 'Why', 'Assignee', 'Opened', 'SLA'];

function row(i: Inspection, health: Device['health'] | undefined, now: number): HTMLElement {
  const [machine, healthLabel, priority, state, why, assignee, opened, sla] = COLUMNS as [string, ...string[]];
  const overdue = i.ackDueAt !== undefined && i.ackDueAt < now;
  return h(
    'tr',
    { 'data-inspection': i.id, 'data-key': i.id },
    cell(machine, h('a', { href: `#/inspection/${i.id}` }, `${i.site} / ${i.device}`)),
    cell(healthLabel!, healthPill(health)),
    cell(priority!, h('span', { class: `pill ${i.priority}` }, i.priority)),
    cell(state!, h('span', { class: 'state' }, words(i.status))),
    cell(why!, i.reason),
    cell(assignee!, i.assignee ?? 'nobody yet'),
    cell(opened!, ago(i.createdAt, now)),
    h('td', { 'data-label': sla, class: overdue ? 'over' : '' }, i.ackDueAt !== undefined ? due(i.ackDueAt, now) : '–'),
  );
}
