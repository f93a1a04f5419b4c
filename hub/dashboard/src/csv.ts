import type { FeatureSeries } from './api.js';
import type { Shown } from './chart.js';

const cell = (v: number | null | undefined): string => (v === null || v === undefined ? '' : String(v));

/** A header cell: quoted when it holds a comma or a quote (feature names and units are free text). */
const head = (text: string): string => (/[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text);

/**
 * The points shown on a score chart as CSV: one row per point, time in ISO 8601 (UTC) and epoch ms; a column for the
 * second machine while one is drawn (cells empty where a machine has no point at that time).
 */
export function scoresCsv(shown: Shown): string {
  const compare = shown.compare;
  const header = ['time', 'epoch_ms', 'score', 'threshold', ...(compare ? [head(`score ${compare.label}`)] : [])];
  const rows = shown.t.map((t, i) =>
    [new Date(t).toISOString(), t, cell(shown.score[i]), cell(shown.threshold[i])]
      .concat(compare ? [cell(compare.score[i])] : [])
      .join(','),
  );
  return [header.join(','), ...rows].join('\n') + '\n';
}

/** Feature trends as CSV: one row per point, one column per feature named with its unit. */
export function featuresCsv(series: FeatureSeries): string {
  const header = ['time', 'epoch_ms', ...series.features.map((f) => head(f.unit ? `${f.label} (${f.unit})` : f.label))];
  const rows = series.t.map((t, i) =>
    [new Date(t).toISOString(), t, ...series.features.map((f) => cell(f.values[i]))].join(','),
  );
  return [header.join(','), ...rows].join('\n') + '\n';
}

/** Hands text to the browser as a file download. */
export function download(name: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
