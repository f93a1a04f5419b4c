import type { ScoreSeries } from './api.js';

/** The points shown on a score chart as CSV: one row per point, time in ISO 8601 (UTC) and epoch ms. */
export function scoresCsv(series: ScoreSeries): string {
  const rows = series.t.map((t, i) => `${new Date(t).toISOString()},${t},${series.score[i]},${series.threshold[i]}`);
  return ['time,epoch_ms,score,threshold', ...rows].join('\n') + '\n';
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
