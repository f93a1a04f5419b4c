import { api, ApiError, type Device, type FeatureSeries, type Inspection, type ScoreSeries } from '../api.js';
import { markerLegend, ScoreChart, type Marker, type Overlay } from '../chart.js';
import { download, featuresCsv, scoresCsv } from '../csv.js';
import { FeatureCharts } from '../feature-chart.js';
import { spectrumChart } from '../spectrum-chart.js';
import { ago, h, words } from '../dom.js';
import { featureValue, healthLine } from '../health.js';
import { patch } from '../patch.js';
import type { View } from '../view.js';
import { OPEN } from './fleet.js';

const HOUR = 3_600_000;
const RANGES: Record<string, [string, number]> = {
  hour: ['Last hour', HOUR],
  day: ['Last day', 24 * HOUR],
  week: ['Last week', 7 * 24 * HOUR],
  custom: ['Custom…', 0],
};

/** The trend tools' settings, kept across visits so an engineer comparing machines keeps the same view. */
const trend: { range: string; log: boolean; from?: number; to?: number } = { range: 'hour', log: false };

/** A datetime-local field's value for an epoch ms, in local time. */
const local = (ms: number) => new Date(ms - new Date(ms).getTimezoneOffset() * 60_000).toISOString().slice(0, 16);

/** When the event that opened it happened, on the device's clock like the scores (the hub's createdAt may differ). */
export const openedAt = (i: Inspection): number => i.events[0]?.at ?? i.createdAt;

/** Markers for each inspection of the machine: when it was opened and, if so, closed. */
function markersOf(history: Inspection[]): Marker[] {
  return history.flatMap((i) => [
    { at: openedAt(i), kind: 'opened' as const },
    ...(i.closedAt !== undefined ? [{ at: i.closedAt, kind: 'closed' as const }] : []),
  ]);
}

/** One machine: the score over a chosen span with its threshold and inspections, what drove its latest alarm. */
export async function machinePage(site: string, device: string): Promise<View> {
  const chart = new ScoreChart('Anomaly score', { log: trend.log });
  const featureCharts = new FeatureCharts();
  let features: FeatureSeries = { t: [], features: [] };
  const spectrum = h('section', { 'aria-label': 'Spectrum' });
  let spectrumShown: { id: string; destroy(): void } | undefined;
  const info = h('div', { 'aria-label': 'Machine status' });
  const drivers = h('section', { 'aria-label': 'Latest alarm' });
  const list = h('section', { 'aria-label': 'Inspection history' });
  const error = h('p', { class: 'error', role: 'alert' });

  const range = h(
    'select',
    { 'aria-label': 'Time range', 'data-kept': true },
    ...Object.entries(RANGES).map(([k, [label]]) => h('option', { value: k, selected: k === trend.range }, label)),
  );
  const from = h('input', { type: 'datetime-local', 'aria-label': 'From', 'data-kept': true });
  const to = h('input', { type: 'datetime-local', 'aria-label': 'To', 'data-kept': true });
  const custom = h(
    'span',
    { class: 'row', hidden: trend.range !== 'custom' },
    from,
    to,
    h('button', { type: 'button', onclick: () => applyCustom() }, 'Apply'),
  );
  const axis = h(
    'select',
    { 'aria-label': 'Score axis', 'data-kept': true },
    h('option', { value: 'linear', selected: !trend.log }, 'linear axis'),
    h('option', { value: 'log', selected: trend.log }, 'log axis'),
  );
  const csv = h('button', { type: 'button' }, 'Download CSV');
  const compare = h(
    'select',
    { 'aria-label': 'Compare with', 'data-kept': true },
    h('option', { value: '' }, 'no second machine'),
  );
  compare.addEventListener('change', () => reload());
  const featureCsv = h('button', { type: 'button' }, 'Download feature CSV');
  featureCsv.addEventListener('click', () =>
    download(`${site}-${device}-features-${stamp(features.t[0])}.csv`, featuresCsv(features)),
  );

  const span = (): { from: number; to?: number } => {
    if (trend.range === 'custom' && trend.from !== undefined)
      return { from: trend.from, ...(trend.to ? { to: trend.to } : {}) };
    return { from: Date.now() - (RANGES[trend.range]?.[1] ?? HOUR) };
  };
  const applyCustom = () => {
    const [a, b] = [Date.parse(from.value), Date.parse(to.value)];
    if (!Number.isFinite(a) || (Number.isFinite(b) && b <= a)) {
      error.textContent = 'Choose a start, and an end after it (or no end for "until now").';
      return;
    }
    error.textContent = '';
    trend.from = a;
    if (Number.isFinite(b)) trend.to = b;
    else delete trend.to;
    chart.unzoom();
    reload();
  };
  range.addEventListener('change', () => {
    trend.range = range.value;
    custom.hidden = range.value !== 'custom';
    if (range.value === 'custom') {
      from.value ||= local(trend.from ?? Date.now() - HOUR);
      to.value ||= trend.to ? local(trend.to) : '';
      return;
    }
    chart.unzoom();
    reload();
  });
  axis.addEventListener('change', () => {
    trend.log = axis.value === 'log';
    chart.setLog(trend.log);
  });
  csv.addEventListener('click', () => {
    const shown = chart.visible();
    download(`${site}-${device}-scores-${stamp(shown.t[0])}.csv`, scoresCsv(shown));
  });

  /** A re-read the user asked for (a new range): a failure is said beside the controls. */
  const reload = () =>
    void refresh().catch((e: Error) => (error.textContent = `Could not read the scores: ${e.message}`));
  const refresh = async () => {
    const points = trend.range === 'hour' ? 600 : 1000;
    const other = compare.value ? compare.value.split('/') : undefined;
    const [devices, inspections, series, trends, second] = await Promise.all([
      api.devices(),
      api.inspections(),
      api.scores(site, device, { points, ...span() }).catch(noScores),
      api.features(site, device, { points: 300, ...span() }).catch(noFeatures),
      other ? api.scores(other[0]!, other[1]!, { points, ...span() }).catch(noScores) : undefined,
    ]);
    const d = devices.find((x) => x.site === site && x.device === device);
    offerPeers(compare, d, devices);
    const history = inspections
      .filter((i) => i.site === site && i.devices.includes(device))
      .sort((a, b) => b.createdAt - a.createdAt);
    const active = history.find((i) => OPEN.has(i.status));
    patch(
      info,
      h(
        'div',
        { 'aria-label': 'Machine status' },
        d
          ? [
              healthLine(d.health),
              h(
                'p',
                {},
                h('span', { class: `pill ${d.state}` }, d.state),
                ` agent ${d.agentVersion} · model ${d.model ? `${d.model.id} ${d.model.version}` : (d.modelVersion ?? '–')}` +
                  ` · seen ${ago(d.lastSeen)}`,
              ),
            ]
          : h('p', { class: 'muted' }, 'This machine has not reported yet.'),
        active
          ? h(
              'p',
              { class: 'callout' },
              h(
                'a',
                { href: `#/inspection/${active.id}` },
                `Open inspection: ${words(active.status)} (${active.priority})`,
              ),
            )
          : null,
      ),
    );
    const overlay: Overlay | undefined = other && second ? { label: compare.value, series: second } : undefined;
    if (series.t.length) chart.show(series, markersOf(history), overlay);
    else chart.empty('No scores in this span.');
    features = trends;
    featureCharts.show(trends);
    patch(drivers, driversOf(history[0]));
    patch(list, historyOf(history));
    await showSpectrum(history[0]);
  };
  /** The spectrum the latest alarm's event carried, read once per inspection (lists leave spectra out). */
  const showSpectrum = async (latest: Inspection | undefined) => {
    if (spectrumShown?.id === (latest?.id ?? '')) return;
    spectrumShown?.destroy();
    const full = latest ? await api.inspection(latest.id) : undefined;
    const drawn = full?.spectrum ? spectrumChart(full.spectrum, full.spectrum.unit) : undefined;
    spectrum.replaceChildren(
      h('h2', {}, 'Spectrum at the latest alarm'),
      drawn?.element ??
        h(
          'p',
          { class: 'muted' },
          latest ? 'This alarm came without a spectrum (an older agent, or a slow primary channel).' : 'No alarm yet.',
        ),
    );
    spectrumShown = { id: latest?.id ?? '', destroy: () => drawn?.destroy() };
  };
  await refresh();
  const root = h(
    'main',
    {},
    h('p', {}, h('a', { href: '#/fleet' }, '← Fleet')),
    h('h1', {}, `${site} / ${device}`),
    info,
    h(
      'section',
      { 'aria-label': 'Score' },
      h('h2', {}, 'Anomaly score'),
      h('div', { class: 'filters' }, range, custom, axis, h('label', {}, 'Compare with ', compare), csv),
      error,
      chart.element,
      markerLegend(),
    ),
    h(
      'section',
      { 'aria-label': 'Feature trends' },
      h('h2', {}, 'Top features'),
      h('div', { class: 'filters' }, featureCsv),
      featureCharts.element,
    ),
    drivers,
    spectrum,
    list,
  );
  return {
    title: `${device} · Machine`,
    root,
    refresh,
    dispose: () => {
      chart.destroy();
      featureCharts.destroy();
      spectrumShown?.destroy();
    },
  };
}

const stamp = (ms: number | undefined) => (ms ? new Date(ms).toISOString().replace(/[:.]/g, '-') : 'none');

/** Machines of the same kind (scored by the same model) offered for the overlay; the choice survives updates. */
function offerPeers(select: HTMLSelectElement, me: Device | undefined, devices: Device[]): void {
  const model = me?.model?.id;
  const peers = devices
    .filter((x) => x !== me && model !== undefined && x.model?.id === model)
    .map((x) => `${x.site}/${x.device}`)
    .sort();
  const offered = [...select.options].slice(1).map((o) => o.value);
  if (offered.join() === peers.join()) return;
  const chosen = select.value;
  select.replaceChildren(
    h('option', { value: '' }, 'no second machine'),
    ...peers.map((key) => h('option', { value: key, selected: key === chosen }, key)),
  );
}

/** A machine without feature trends yet (404 before its first telemetry) shows none, not an error. */
function noFeatures(error: unknown): FeatureSeries {
  if (error instanceof ApiError && error.status === 404) return { t: [], features: [] };
  throw error;
}

/** A machine the hub has no scores for (404) shows an empty chart, not an error. */
function noScores(error: unknown): ScoreSeries {
  if (error instanceof ApiError && error.status === 404) return { t: [], score: [], threshold: [] };
  throw error;
}

function driversOf(latest: Inspection | undefined): HTMLElement {
  return h(
    'section',
    { 'aria-label': 'Latest alarm' },
    latest
      ? [
          h('h2', {}, 'What drove the latest alarm'),
          h('p', {}, latest.reason),
          h(
            'ul',
            { 'aria-label': 'Top features' },
            ...latest.contributions.map((c) =>
              h(
                'li',
                { title: c.feature },
                `${c.label}: ${featureValue(c)}, ${Math.round(c.share * 100)}% of the score`,
              ),
            ),
          ),
        ]
      : null,
  );
}

function historyOf(history: Inspection[]): HTMLElement {
  return h(
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
              { 'data-key': i.id },
              h(
                'a',
                { href: `#/inspection/${i.id}` },
                `${new Date(i.createdAt).toLocaleString()} · ${i.severity} · ${words(i.status)}` +
                  (i.outcome ? ` · ${words(i.outcome.label)}` : ''),
              ),
            ),
          ),
        )
      : h('p', { class: 'muted' }, 'None.'),
  );
}
