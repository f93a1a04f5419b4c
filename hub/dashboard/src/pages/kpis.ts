import { api } from '../api.js';
import { duration, h } from '../dom.js';

const LABELS: Record<string, [string, (v: number) => string]> = {
  mttaMs: ['Mean time to acknowledge', duration],
  mttrMs: ['Mean time to resolve', duration],
  falseAlarmShare: ['False-alarm share', (v) => `${(v * 100).toFixed(1)} %`],
  alarmsPerDeviceWeek: ['Alarms per device-week', (v) => v.toFixed(2)],
  autoClosedShare: ['Auto-closed (watch items)', (v) => `${(v * 100).toFixed(1)} %`],
  toPeopleShare: ['Sent to people', (v) => `${(v * 100).toFixed(1)} %`],
};

/** The numbers reliability engineers are judged by, per site. */
export async function kpisPage(): Promise<HTMLElement> {
  const kpis = (await api.kpis()) as {
    sites?: Record<string, Record<string, number | null>>;
    weekly?: Array<{ weekStart: number; inspections: number; falseAlarms: number }>;
  } & Record<string, number | null>;
  const card = (title: string, values: Record<string, number | null | unknown>) =>
    h(
      'section',
      { class: 'card', 'aria-label': title },
      h('h2', {}, title),
      h(
        'dl',
        {},
        ...Object.entries(LABELS).flatMap(([key, [label, format]]) => {
          const v = values[key];
          return [h('dt', {}, label), h('dd', {}, typeof v === 'number' ? format(v) : '–')];
        }),
      ),
    );
  return h(
    'main',
    {},
    h('h1', {}, 'KPIs'),
    h('div', { class: 'kpis' }, card('All sites', kpis), ...Object.entries(kpis.sites ?? {}).map(([site, values]) => card(`Site ${site}`, values))),
    h(
      'table',
      { class: 'list', 'aria-label': 'Inspections per week' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Week starting'), h('th', {}, 'Inspections'), h('th', {}, 'False alarms'))),
      h('tbody', {}, ...(kpis.weekly ?? []).map((w) => h('tr', {}, h('td', {}, new Date(w.weekStart).toLocaleDateString()), h('td', {}, w.inspections), h('td', {}, w.falseAlarms)))),
    ),
  );
}
