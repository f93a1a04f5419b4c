import { api, type Device, type Inspection } from '../api.js';
import { ago, h } from '../dom.js';

const OPEN = new Set(['open', 'acknowledged', 'assigned', 'in_progress', 'escalated']);

/** What the fleet filter holds, kept across redraws of the page. */
let fleetFilter = '';

/** Every machine at a glance: state, latest score against threshold, model, open inspections. */
export async function fleetPage(): Promise<HTMLElement> {
  const [devices, inspections] = await Promise.all([api.devices(), api.inspections()]);
  const openBy = new Map<string, number>();
  for (const i of inspections)
    if (OPEN.has(i.status)) openBy.set(`${i.site}/${i.device}`, (openBy.get(`${i.site}/${i.device}`) ?? 0) + 1);
  const key = (d: Device) => `${d.site}/${d.device}`;
  const sorted = [...devices].sort(
    (a, b) =>
      (openBy.get(key(b)) ?? 0) - (openBy.get(key(a)) ?? 0) ||
      a.state.localeCompare(b.state) ||
      key(a).localeCompare(key(b)),
  );
  const online = devices.filter((d) => d.state === 'online').length;
  const filter = h('input', {
    type: 'search',
    placeholder: 'Filter by site or machine',
    'aria-label': 'Filter machines',
    'data-kept': true,
  });
  // The filter outlives redraws (live updates, coming back to the page), so the list a user narrowed stays narrowed.
  filter.value = fleetFilter;
  const body = h('tbody');
  const render = () => {
    const q = filter.value.trim().toLowerCase();
    body.replaceChildren(
      ...sorted.filter((d) => !q || key(d).toLowerCase().includes(q)).map((d) => row(d, openBy.get(key(d)) ?? 0)),
    );
  };
  filter.addEventListener('input', () => {
    fleetFilter = filter.value;
    render();
  });
  render();
  return h(
    'main',
    {},
    h('h1', {}, 'Fleet'),
    h(
      'section',
      { class: 'tiles', 'aria-label': 'Fleet summary' },
      tile('Machines', devices.length),
      tile('Online', online),
      tile('Offline', devices.length - online),
      tile('Open inspections', inspections.filter((i: Inspection) => OPEN.has(i.status)).length),
    ),
    filter,
    h(
      'table',
      { class: 'list', 'aria-label': 'Machines' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['Machine', 'State', 'Score / threshold', 'Model', 'Drift (PSI)', 'Open', 'Last seen'].map((t) =>
            h('th', {}, t),
          ),
        ),
      ),
      body,
    ),
  );
}

function tile(label: string, value: number): HTMLElement {
  return h('div', { class: 'tile' }, h('div', { class: 'value' }, value), h('div', { class: 'label' }, label));
}

function row(d: Device, open: number): HTMLElement {
  const over = d.lastScore !== undefined && d.lastThreshold !== undefined && d.lastScore >= d.lastThreshold;
  return h(
    'tr',
    { 'data-device': d.device },
    h(
      'td',
      {},
      h(
        'a',
        { href: `#/machine/${encodeURIComponent(d.site)}/${encodeURIComponent(d.device)}` },
        `${d.site} / ${d.device}`,
      ),
    ),
    h('td', {}, h('span', { class: `pill ${d.state}` }, d.state)),
    h(
      'td',
      { class: over ? 'over' : '' },
      d.lastScore === undefined ? '–' : `${d.lastScore.toFixed(2)} / ${d.lastThreshold?.toFixed(2) ?? '–'}`,
    ),
    h('td', {}, d.modelVersion ?? '–'),
    h('td', {}, driftCell(d.drift)),
    h('td', {}, open ? h('span', { class: 'pill warning' }, open) : '0'),
    h('td', {}, ago(d.lastSeen)),
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
