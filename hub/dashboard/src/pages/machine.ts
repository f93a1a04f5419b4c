import { api } from '../api.js';
import { scoreChart } from '../chart.js';
import { ago, h, replace } from '../dom.js';

/** One machine: live score chart with its threshold, what drove its latest alarm, and its inspection history. */
export async function machinePage(site: string, device: string): Promise<HTMLElement> {
  const [devices, inspections] = await Promise.all([api.devices(), api.inspections()]);
  const info = devices.find((d) => d.site === site && d.device === device);
  const history = inspections
    .filter((i) => i.site === site && i.devices.includes(device))
    .sort((a, b) => b.createdAt - a.createdAt);
  const chart = h('div', { class: 'chart', 'aria-label': 'Anomaly score' });
  api.scores(site, device).then(
    (series) =>
      series.t.length ? scoreChart(chart, series) : replace(chart, h('p', { class: 'muted' }, 'No scores yet.')),
    () => replace(chart, h('p', { class: 'muted' }, 'No score history available.')),
  );
  const latest = history[0];
  return h(
    'main',
    {},
    h('p', {}, h('a', { href: '#/fleet' }, '← Fleet')),
    h('h1', {}, `${site} / ${device}`),
    info
      ? h(
          'p',
          {},
          h('span', { class: `pill ${info.state}` }, info.state),
          ` agent ${info.agentVersion} · model ${info.modelVersion ?? '–'} · seen ${ago(info.lastSeen)}`,
        )
      : h('p', { class: 'muted' }, 'This machine has not reported yet.'),
    h('section', { 'aria-label': 'Score' }, h('h2', {}, 'Anomaly score'), chart),
    latest
      ? h(
          'section',
          { 'aria-label': 'Latest alarm' },
          h('h2', {}, 'What drove the latest alarm'),
          h(
            'ul',
            {},
            ...latest.contributions.map((c) =>
              h('li', {}, `${c.feature} = ${c.value.toFixed(3)} (${Math.round(c.share * 100)}%)`),
            ),
          ),
        )
      : null,
    h(
      'section',
      { 'aria-label': 'Inspection history' },
      h('h2', {}, 'Inspections'),
      history.length
        ? h(
            'ul',
            {},
            ...history.map((i) =>
              h(
                'li',
                {},
                h(
                  'a',
                  { href: `#/inspection/${i.id}` },
                  `${new Date(i.createdAt).toLocaleString()} · ${i.severity} · ${i.status}${i.outcome ? ` · ${i.outcome.label}` : ''}`,
                ),
              ),
            ),
          )
        : h('p', { class: 'muted' }, 'None.'),
    ),
  );
}
