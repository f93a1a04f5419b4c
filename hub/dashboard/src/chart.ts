import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { ScoreSeries } from './api.js';
import { h } from './dom.js';

/** A vertical line on the chart: when an inspection was opened or closed. */
export interface Marker {
  at: number;
  kind: 'opened' | 'closed';
}

export const MARKERS: Record<Marker['kind'], { color: string; label: string }> = {
  opened: { color: '#bf8700', label: 'inspection opened' },
  closed: { color: '#1a7f37', label: 'inspection closed' },
};

/** A second machine's score drawn beside this one's (same kind of machine, same model). */
export interface Overlay {
  label: string;
  series: ScoreSeries;
}

/** What a chart shows within its span, for export: `compare` only while a second machine is drawn. */
export interface Shown {
  t: number[];
  /** Empty (null) on a row only the second machine has. */
  score: Array<number | null>;
  threshold: Array<number | null>;
  compare?: { label: string; score: Array<number | null> };
}

export const OVERLAY_COLOR = '#8250df';

/** Short numbers for the score axis, so labels stay narrow and never run into each other (a log axis leaves some unnamed). */
export const tick = (v: number): string =>
  Math.abs(v) >= 10_000 || (v !== 0 && Math.abs(v) < 0.01) ? v.toExponential(0) : String(+v.toPrecision(3));

/**
 * Anomaly score with its threshold line and event markers. New data keeps the user's zoom: a zoomed chart stays on
 * the span they chose; an unzoomed one follows the data. The shown span is mirrored in data-x-min / data-x-max.
 */
export class ScoreChart {
  readonly element: HTMLDivElement;
  private plot: uPlot | undefined;
  private series: ScoreSeries = { t: [], score: [], threshold: [] };
  private markers: Marker[] = [];
  private overlay: Overlay | undefined;
  private log: boolean;
  /** The span the user zoomed to (seconds), or undefined while the chart follows the data. */
  private zoom: { min: number; max: number } | undefined;
  private ours = false;
  private readonly resize = () => this.plot?.setSize({ width: this.width(), height: 260 });

  constructor(label: string, opts: { log?: boolean } = {}) {
    this.log = opts.log ?? false;
    this.element = h('div', { class: 'chart', 'aria-label': label, 'data-keep': true });
    window.addEventListener('resize', this.resize);
  }

  show(series: ScoreSeries, markers: Marker[] = [], overlay?: Overlay): void {
    this.series = series;
    this.markers = markers;
    const relabelled = this.overlay?.label !== overlay?.label;
    this.overlay = overlay;
    if (relabelled && this.plot) {
      // A series came or went: uPlot's series are fixed at creation, so the chart is drawn anew (the zoom is kept).
      this.plot.destroy();
      this.plot = undefined;
    }
    if (!this.plot) {
      this.element.replaceChildren();
      return this.create();
    }
    this.ours = true;
    this.plot.batch(() => {
      this.plot!.setData(this.data(), !this.zoom);
      if (this.zoom) this.plot!.setScale('x', this.zoom);
    });
    this.ours = false;
    this.mirror();
  }

  /** Back to following the data (a new time range was chosen): the next points set the span. */
  unzoom(): void {
    this.zoom = undefined;
    this.mirror();
  }

  /** No points to draw: a sentence instead of an empty chart. */
  empty(message: string): void {
    this.plot?.destroy();
    this.plot = undefined;
    this.series = { t: [], score: [], threshold: [] };
    this.element.replaceChildren(h('p', { class: 'muted' }, message));
    this.mirror();
  }

  setLog(log: boolean): void {
    if (log === this.log) return;
    this.log = log;
    if (!this.plot) return;
    this.plot.destroy();
    this.plot = undefined;
    this.create();
  }

  /** The points inside the span on screen, for export; with the second machine's scores when one is drawn. */
  visible(): Shown {
    const x = this.plot?.scales.x;
    const from = (x?.min ?? -Infinity) * 1000;
    const to = (x?.max ?? Infinity) * 1000;
    const out: Shown = { t: [], score: [], threshold: [] };
    this.series.t.forEach((t, i) => {
      if (t < from || t > to) return;
      out.t.push(t);
      out.score.push(this.series.score[i]!);
      out.threshold.push(this.series.threshold[i]!);
    });
    if (!this.overlay) return out;
    const other = this.overlay.series;
    const compare = new Map(other.t.map((t, i) => [t, other.score[i]!]));
    out.compare = { label: this.overlay.label, score: out.t.map((t) => compare.get(t) ?? null) };
    // The second machine's points at times this machine has none: rows of their own, this machine's cells empty.
    const rows = other.t.filter((t) => t >= from && t <= to && !this.series.t.includes(t));
    return rows.length ? mergeRows(out, rows, compare) : out;
  }

  destroy(): void {
    window.removeEventListener('resize', this.resize);
    this.plot?.destroy();
  }

  private width(): number {
    const room = this.element.clientWidth || document.documentElement.clientWidth - 32;
    return Math.max(280, Math.min(room, 1100));
  }

  private data(): uPlot.AlignedData {
    // A log axis cannot show zero: such points sit at a floor below the smallest real value.
    const all = [...this.series.score, ...(this.overlay?.series.score ?? [])];
    const floor = this.log ? Math.min(...all.filter((v) => v > 0), 1) / 10 : -Infinity;
    const own: uPlot.AlignedData = [
      this.series.t.map((t) => t / 1000),
      this.series.score.map((v) => Math.max(v, floor)),
      this.series.threshold.map((v) => Math.max(v, floor)),
    ];
    if (!this.overlay) return own;
    const other = this.overlay.series;
    // Two machines report at different instants: uPlot.join puts both on one time axis, gaps where one has no point.
    return uPlot.join([own, [other.t.map((t) => t / 1000), other.score.map((v) => Math.max(v, floor))]]);
  }

  private create(): void {
    const opts: uPlot.Options = {
      width: this.width(),
      height: 260,
      scales: { x: { time: true }, y: this.log ? { distr: 3 } : {} },
      series: [
        {},
        { label: 'score', stroke: '#1f6feb', width: 1.5 },
        { label: 'threshold', stroke: '#d1242f', dash: [6, 4], width: 1 },
        ...(this.overlay
          ? [{ label: `score ${this.overlay.label}`, stroke: OVERLAY_COLOR, width: 1.5, spanGaps: true }]
          : []),
      ],
      axes: [
        { space: 90 },
        {
          label: this.log ? 'score (log)' : 'score',
          size: 60,
          space: 30,
          values: (_u, vs) => vs.map((v) => (v === null ? '' : tick(v))),
        },
      ],
      hooks: {
        draw: [(u) => this.drawMarkers(u)],
        setScale: [
          (u, key) => {
            if (key !== 'x' || this.ours) return;
            const [first, last] = [u.data[0][0], u.data[0][u.data[0].length - 1]];
            const { min, max } = u.scales.x ?? {};
            if (min === undefined || max === undefined) return;
            const whole = first === undefined || last === undefined || (min <= first && max >= last);
            this.zoom = whole ? undefined : { min, max };
            this.mirror();
          },
        ],
      },
    };
    this.ours = true;
    this.plot = new uPlot(opts, this.data(), this.element);
    if (this.zoom) this.plot.setScale('x', this.zoom);
    this.ours = false;
    this.mirror();
  }

  private mirror(): void {
    const x = this.plot?.scales.x;
    this.element.dataset.xMin = String(x?.min ?? '');
    this.element.dataset.xMax = String(x?.max ?? '');
    this.element.dataset.zoomed = String(!!this.zoom);
    this.element.dataset.scale = this.log ? 'log' : 'linear';
    this.element.dataset.points = String(this.series.t.length);
    this.element.dataset.last = String(this.series.t[this.series.t.length - 1] ?? '');
    this.element.dataset.overlay = this.overlay?.label ?? '';
    this.element.dataset.overlayPoints = String(this.overlay?.series.t.length ?? 0);
  }

  private drawMarkers(u: uPlot): void {
    const ctx = u.ctx;
    ctx.save();
    ctx.lineWidth = 2;
    for (const marker of this.markers) {
      const x = u.valToPos(marker.at / 1000, 'x', true);
      if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
      ctx.strokeStyle = MARKERS[marker.kind].color;
      ctx.beginPath();
      ctx.moveTo(x, u.bbox.top);
      ctx.lineTo(x, u.bbox.top + u.bbox.height);
      ctx.stroke();
    }
    ctx.restore();
  }
}

/** `shown` with rows added at the times `extra` (the second machine's only), in time order. */
function mergeRows(shown: Shown, extra: number[], compare: Map<number, number>): Shown {
  const rows = [
    ...shown.t.map((t, i) => ({ t, s: shown.score[i] ?? null, thr: shown.threshold[i] ?? null })),
    ...extra.map((t) => ({ t, s: null, thr: null as number | null })),
  ].sort((a, b) => a.t - b.t);
  return {
    t: rows.map((r) => r.t),
    score: rows.map((r) => r.s),
    threshold: rows.map((r) => r.thr),
    compare: { label: shown.compare!.label, score: rows.map((r) => compare.get(r.t) ?? null) },
  };
}

/** What the marker lines mean, beside uPlot's own legend of the score and threshold lines. */
export function markerLegend(): HTMLElement {
  return h(
    'ul',
    { class: 'legend', 'aria-label': 'Chart markers' },
    ...Object.values(MARKERS).map(({ color, label }) =>
      h('li', {}, h('span', { class: 'swatch', style: `background:${color}` }), label),
    ),
  );
}
