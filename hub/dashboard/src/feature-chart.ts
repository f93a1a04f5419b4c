import uPlot from 'uplot';
import type { FeatureSeries } from './api.js';
import { tick } from './chart.js';
import { h } from './dom.js';

type Feature = FeatureSeries['features'][number];

const HEIGHT = 150;

/** Width for a chart in a grid cell: two columns on a wide screen, one on a phone. */
function cellWidth(): number {
  const room = document.documentElement.clientWidth - 32;
  return Math.max(260, Math.min(room >= 900 ? room / 2 - 16 : room, 540));
}

/**
 * One small chart per top feature, each titled with the feature's human name and unit. A live update replaces the
 * points in place (setData), so the charts do not flicker; a feature that comes or goes adds or drops its chart.
 */
export class FeatureCharts {
  readonly element = h('div', { class: 'feature-charts', 'data-keep': true });
  private readonly charts = new Map<string, { box: HTMLElement; plot: uPlot }>();
  private readonly resize = () => {
    for (const { plot } of this.charts.values()) plot.setSize({ width: cellWidth(), height: HEIGHT });
  };

  constructor() {
    window.addEventListener('resize', this.resize);
  }

  show(series: FeatureSeries): void {
    const x = series.t.map((t) => t / 1000);
    const keep = new Set(series.features.map((f) => f.feature));
    for (const [name, chart] of this.charts) {
      if (keep.has(name)) continue;
      chart.plot.destroy();
      chart.box.remove();
      this.charts.delete(name);
    }
    if (!series.features.length || !series.t.length) {
      this.element.replaceChildren(h('p', { class: 'muted' }, 'No feature trends in this span.'));
      return this.charts.clear();
    }
    this.element.querySelector(':scope > p')?.remove();
    for (const f of series.features) {
      const data: uPlot.AlignedData = [x, f.values];
      const chart = this.charts.get(f.feature);
      if (chart) chart.plot.setData(data);
      else this.add(f, data);
      const box = this.charts.get(f.feature)!.box;
      box.dataset.points = String(f.values.filter((v) => v !== null).length);
      this.element.append(box); // in the hub's order
    }
  }

  destroy(): void {
    window.removeEventListener('resize', this.resize);
    for (const { plot } of this.charts.values()) plot.destroy();
    this.charts.clear();
  }

  private add(f: Feature, data: uPlot.AlignedData): void {
    const title = f.unit ? `${f.label} (${f.unit})` : f.label;
    const box = h(
      'figure',
      { class: 'feature', 'data-feature': f.feature },
      h('figcaption', { title: f.feature }, title),
    );
    const plot = new uPlot(
      {
        width: cellWidth(),
        height: HEIGHT,
        legend: { show: false },
        scales: { x: { time: true } },
        series: [{}, { label: f.label, stroke: '#0a7d6f', width: 1.25, spanGaps: true }],
        axes: [
          { space: 80 },
          {
            size: 56,
            space: 24,
            values: (_u, vs) => vs.map((v) => (v === null ? '' : tick(v))),
            ...(f.unit ? { label: f.unit } : {}),
          },
        ],
      },
      data,
      box,
    );
    this.charts.set(f.feature, { box, plot });
  }
}
