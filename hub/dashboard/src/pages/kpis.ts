import { api, type Webhooks } from '../api.js';
import { ago, duration, h, replace } from '../dom.js';

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
  const [kpis, me, webhooks] = await Promise.all([api.kpis(), api.me(), api.webhooks()]);
  const card = (title: string, values: Partial<Record<string, unknown>>) =>
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
    h(
      'div',
      { class: 'kpis' },
      card('All sites', kpis),
      ...Object.entries(kpis.sites).map(([site, values]) => card(`Site ${site}`, values)),
    ),
    h(
      'table',
      { class: 'list', 'aria-label': 'Inspections per week' },
      h(
        'thead',
        {},
        h('tr', {}, h('th', {}, 'Week starting'), h('th', {}, 'Inspections'), h('th', {}, 'False alarms')),
      ),
      h(
        'tbody',
        {},
        ...kpis.weekly.map((w) =>
          h(
            'tr',
            {},
            h('td', {}, new Date(w.weekStart).toLocaleDateString()),
            h('td', {}, w.inspections),
            h('td', {}, w.falseAlarms),
          ),
        ),
      ),
    ),
    cmmsSection(webhooks, me?.role === 'supervisor'),
  );
}

/**
 * The CMMS webhook outbox: what was delivered, what waits, and the dead letters (gave up after the configured
 * attempts, or refused by the CMMS) with their last error; a supervisor sends them again.
 */
function cmmsSection(initial: Webhooks, supervisor: boolean): HTMLElement {
  const root = h('section', { 'aria-label': 'CMMS deliveries' });
  const draw = (w: Webhooks, notice?: string): void => {
    const retry = () =>
      void api.retryWebhooks().then(
        async (r) => draw(await api.webhooks(), `${r.retried.length} notification(s) queued again.`),
        async (error: Error) => draw(await api.webhooks(), `Failed: ${error.message}`),
      );
    replace(
      root,
      h('h2', {}, 'CMMS deliveries'),
      notice ? h('p', { role: 'status' }, notice) : null,
      !w.configured
        ? h('p', {}, 'No CMMS is configured (workflow.cmms in the hub config).')
        : h('p', {}, `${w.stats.delivered} delivered, ${w.pending.length} waiting, ${w.dead.length} dead letters.`),
      w.dead.length === 0
        ? null
        : h(
            'table',
            { class: 'list', 'aria-label': 'Dead letters' },
            h(
              'thead',
              {},
              h('tr', {}, ...['Inspection', 'Change', 'Attempts', 'Last error', 'Given up'].map((t) => h('th', {}, t))),
            ),
            h(
              'tbody',
              {},
              ...w.dead.map((d) =>
                h(
                  'tr',
                  { 'data-webhook': d.key },
                  h('td', {}, d.inspectionId),
                  h('td', {}, d.type),
                  h('td', {}, d.attempts),
                  h('td', {}, d.lastError ?? ''),
                  h('td', {}, d.deadAt ? ago(d.deadAt) : ''),
                ),
              ),
            ),
          ),
      supervisor && w.dead.length > 0
        ? h('button', { type: 'button', onclick: retry }, 'Send dead letters again')
        : null,
    );
  };
  draw(initial);
  return root;
}
