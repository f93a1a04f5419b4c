import uPlot from 'uplot';
import type { Spectrum } from './api.js';
import { tick } from './chart.js';
import { h } from './dom.js';

/** Bearing-defect and running-speed lines: what each means to a vibration analyst. */
const LINES = [
  ['shaft', '1× running speed', '#57606a'],
  ['ftf', 'FTF: cage', '#bf8700'],
  ['bsf', 'BSF: ball spin', '#8250df'],
  ['bpfo', 'BPFO: outer race', '#d1242f'],
  ['bpfi', 'BPFI: inner race', '#0969da'],
] as const;

type LineName = (typeof LINES)[number][0];

/** The marker frequencies the snapshot carries, in Hz, within the spectrum's span. */
export function spectrumMarkers(s: Spectrum): Array<{ name: LineName; label: string; color: string; hz: number }> {
  const top = s.binHz * s.amplitudes.length;
  const hz: Partial<Record<LineName, number>> = { ...(s.shaftHz ? { shaft: s.shaftHz } : {}), ...s.defects };
  return LINES.flatMap(([name, label, color]) => {
    const f = hz[name];
    return f !== undefined && f < top ? [{ name, label, color, hz: f }] : [];
  });
}

/**
 * The spectrum an agent sent with an event: bin amplitudes as bars, with vertical lines at running speed and the
 * bearing-defect frequencies where the machine's config gave shaft speed and bearing geometry.
 */
export function spectrumChart(s: Spectrum, unit: string): { element: HTMLElement; destroy(): void } {
  const markers = spectrumMarkers(s);
  const x = s.amplitudes.map((_, i) => (i + 0.5) * s.binHz);
  const element = h('figure', {
    class: 'spectrum',
    'aria-label': 'Spectrum at the event',
    'data-bins': s.amplitudes.length,
    'data-markers': markers.map((m) => m.name).join(','),
  });
  const room = document.documentElement.clientWidth - 32;
  const plot = new uPlot(
    {
      width: Math.max(280, Math.min(room, 1100)),
      height: 220,
      legend: { show: false },
      scales: { x: { time: false } },
      series: [
        {},
        {
          label: 'amplitude',
          stroke: '#1f6feb',
          fill: '#1f6feb55',
          paths: uPlot.paths.bars!({ size: [1, Infinity] }),
        },
      ],
      axes: [
        { label: 'Hz', space: 60 },
        {
          label: unit ? `RMS (${unit})` : 'RMS',
          size: 60,
          values: (_u, vs) => vs.map((v) => (v === null ? '' : tick(v))),
        },
      ],
      hooks: {
        draw: [
          (u) => {
            const ctx = u.ctx;
            ctx.save();
            ctx.setLineDash([5, 4]);
            ctx.lineWidth = 1.5;
            ctx.font = `${11 * devicePixelRatio}px sans-serif`;
            // Neighbouring lines (cage and shaft) sit close: labels alternate between two rows.
            for (const [i, m] of markers.entries()) {
              const px = u.valToPos(m.hz, 'x', true);
              ctx.strokeStyle = ctx.fillStyle = m.color;
              ctx.beginPath();
              ctx.moveTo(px, u.bbox.top);
              ctx.lineTo(px, u.bbox.top + u.bbox.height);
              ctx.stroke();
              ctx.fillText(m.name.toUpperCase(), px + 3, u.bbox.top + (12 + (i % 2) * 13) * devicePixelRatio);
            }
            ctx.restore();
          },
        ],
      },
    },
    [x, s.amplitudes],
    element,
  );
  element.append(
    h(
      'figcaption',
      {},
      `${s.channel}, window ending ${new Date(s.windowEnd).toLocaleString()}, ${s.amplitudes.length} bins of ` +
        `${+s.binHz.toPrecision(3)} Hz`,
      markers.length
        ? h(
            'ul',
            { class: 'legend', 'aria-label': 'Spectrum markers' },
            ...markers.map((m) =>
              h(
                'li',
                { 'data-marker': m.name },
                h('span', { class: 'swatch', style: `background:${m.color}` }),
                `${m.label} ${m.hz.toFixed(1)} Hz`,
              ),
            ),
          )
        : h(
            'p',
            { class: 'muted' },
            'No bearing markers: the machine config gives no shaft speed and bearing geometry.',
          ),
    ),
  );
  return { element, destroy: () => plot.destroy() };
}
