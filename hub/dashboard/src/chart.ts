import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { ScoreSeries } from './api.js';

/** Anomaly score with its threshold line; `marker` (epoch ms) draws a vertical line where an event was raised. */
export function scoreChart(target: HTMLElement, series: ScoreSeries, marker?: number): uPlot {
  const width = Math.max(280, Math.min(target.clientWidth || 800, 1100));
  const opts: uPlot.Options = {
    width,
    height: 240,
    scales: { x: { time: true } },
    series: [
      {},
      { label: 'score', stroke: '#1f6feb', width: 1.5 },
      { label: 'threshold', stroke: '#d1242f', dash: [6, 4], width: 1 },
    ],
    axes: [{}, { label: 'score' }],
    hooks: marker
      ? {
          draw: [
            (u: uPlot) => {
              const x = u.valToPos(marker / 1000, 'x', true);
              const ctx = u.ctx;
              ctx.save();
              ctx.strokeStyle = '#bf8700';
              ctx.lineWidth = 2;
              ctx.beginPath();
              ctx.moveTo(x, u.bbox.top);
              ctx.lineTo(x, u.bbox.top + u.bbox.height);
              ctx.stroke();
              ctx.restore();
            },
          ],
        }
      : {},
  };
  const data: uPlot.AlignedData = [series.t.map((t) => t / 1000), series.score, series.threshold];
  return new uPlot(opts, data, target);
}
