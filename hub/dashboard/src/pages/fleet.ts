import { api, type Device, type Inspection } from '../api.js';
import { ago, cell, h } from '../dom.js';
import { HEALTH_LABEL, HEALTH_ORDER, healthPill, healthRank } from '../health.js';
import { patch } from '../patch.js';
import { KeyedRows } from '../rows.js';
import type { View } from '../view.js';

export const OPEN = new Set(['open', 'acknowledged', 'assigned', 'in_progress', 'escalated']);

/** What the fleet filter holds, kept across visits to the page. */
let fleetFilter = '';

const key = (d: { site: string; device: string }) => `${d.site}/${d.device}`;

/** Every machine at a glance: state, latest score against threshold, model, open inspections. */
export async function fleetPage(): Promise<View> {
  let devices: Device[] = [];
  let openBy = new Map<string, number>();
  let inspections: Inspection[] = [];
  const filter = h('input', {
    type: 'search',
    placeholder: 'Filter by site or machine',
    'aria-label': 'Filter machines',
    'data-kept': true,
  });
  filter.value = fleetFilter;
  const tiles = h('section', { class: 'tiles', 'aria-label': 'Fleet summary' });
  const body = h('tbody');
  let now = Date.now();
  const rows = new KeyedRows<Device>(body, {
    key,
    sig: (d) => `${JSON.stringify(d)} ${openBy.get(key(d)) ?? 0} ${ago(d.lastSeen, now)}`,
    build: (d) => row(d, openBy.get(key(d)) ?? 0, now),
  });
  const draw = () => {
    const q = filter.value.trim().toLowerCase();
    const sorted = devices
      .filter((d) => !q || key(d).toLowerCase().includes(q))
      .sort(
        (a, b) =>
          healthRank(a) - healthRank(b) ||
          (openBy.get(key(b)) ?? 0) - (openBy.get(key(a)) ?? 0) ||
          key(a).localeCompare(key(b)),
      );
    patch(
      tiles,
      h(
        'section',
        { class: 'tiles', 'aria-label': 'Fleet summary' },
        tile('Machines', devices.length),
        ...HEALTH_ORDER.map((state) =>
          tile(HEALTH_LABEL[state], devices.filter((d) => d.health.state === state).length, state),
        ),
        tile('Open inspections', inspections.filter((i) => OPEN.has(i.status)).length),
      ),
    );
    now = Date.now();
    rows.show(sorted);
  };
  filter.addEventListener('input', () => {
    fleetFilter = filter.value;
    draw();
  });
  const refresh = async () => {
    [devices, inspections] = await Promise.all([api.devices(), api.inspections()]);
    openBy = new Map();
    for (const i of inspections) if (OPEN.has(i.status)) openBy.set(key(i), (openBy.get(key(i)) ?? 0) + 1);
    draw();
  };
  await refresh();
  const root = h(
    'main',
    {},
    h('h1', {}, 'Fleet'),
    tiles,
    filter,
    h(
      'table',
      { class: 'list', 'aria-label': 'Machines' },
      h('thead', {}, h('tr', {}, ...COLUMNS.map((t) => h('th', {}, t)))),
      body,
    ),
  );
  return { title: 'Fleet', root, refresh };
}

const COLUMNS = ['Machine', 'Health', 'Link', 'Score / threshold', 'Model', 'Drift (PSI)', 'Open', 'Last seen'];

function tile(label: string, value: number, health?: string): HTMLElement {
  return h(
    'div',
    { class: health ? `tile health-${health}` : 'tile' },
    h('div', { class: 'value' }, value),
    h('div', { class: 'label' }, label),
  );
}

function row(d: Device, open: number, now: number): HTMLElement {
  const over = d.lastScore !== undefined && d.lastThreshold !== undefined && d.lastScore >= d.lastThreshold;
  const [machine, health, state, score, model, drift, opened, seen] = COLUMNS as [string, ...string[]];
  return h(
    'tr',
    { 'data-device': d.device, 'data-key': key(d) },
    cell(
      machine,
      h(
        'a',
        { href: `#/machine/${encodeURIComponent(d.site)}/${encodeURIComponent(d.device)}` },
        `${d.site} / ${d.device}`,
      ),
    ),
    cell(health!, healthPill(d.health)),
    cell(state!, h('span', { class: `pill ${d.state}` }, d.state)),
    h(
      'td',
      { 'data-label': score, class: over ? 'over' : '' },
      d.lastScore === undefined ? '–' : `${d.lastScore.toFixed(2)} / ${d.lastThreshold?.toFixed(2) ?? '–'}`,
    ),
    cell(model!, d.modelVersion ?? '–'),
    cell(drift!, driftCell(d.drift)),
    cell(opened!, open ? h('span', { class: 'pill warning' }, open) : '0'),
    cell(seen!, ago(d.lastSeen, now)),
  );
}

const DRIFT_CLASS: Record<string, string> = { warn: 'warning', alarm: 'critical' };

/** The drift flag, with the largest PSI once there is one; nothing shown where the hub has no drift report. */
function driftCell(drift: Device['drift']): HTMLElement | string {
  if (!drift) return '–';
  const psi = drift.maxPsi === null ? '' : ` ${drift.maxPsi.toFixed(2)}`;
  return h(
    'span',
    {
      class: `pill ${DRIFT_CLASS[drift.level] ?? ''}`,
      title: "population stability index of recent telemetry against the model's training data",
    },
    `${drift.level}${psi}`,
  );
}
