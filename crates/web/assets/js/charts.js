// Time-series charts drawn as SVG: a line of readings over time and, for batteries,
// the forecast: a band from the earliest to the latest day the batteries run out.
import { h, svg } from './ui.js';

const W = 640;
const H = 200;
const PAD = { l: 64, r: 16, t: 12, b: 28 };

const day = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
const hour = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

// points: [[ms, value]]; opts: {title, unit, min, max, band: {from, to, label}}
export function lineChart(points, opts) {
  const xs = points.map((p) => p[0]);
  let x0 = Math.min(...xs);
  let x1 = Math.max(...xs);
  if (opts.band) {
    x1 = Math.max(x1, opts.band.to);
    x0 = Math.min(x0, opts.band.from);
  }
  if (!(x1 > x0)) { x0 -= 3600e3; x1 += 3600e3; }
  const y0 = opts.min;
  const y1 = opts.max;
  const X = (t) => PAD.l + ((t - x0) / (x1 - x0)) * (W - PAD.l - PAD.r);
  const Y = (v) => H - PAD.b - ((v - y0) / (y1 - y0)) * (H - PAD.t - PAD.b);
  const span = x1 - x0;
  const fmt = span > 2 * 86400e3 ? day : hour;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => x0 + f * span);
  const yTicks = [0, 0.5, 1].map((f) => y0 + f * (y1 - y0));
  const path = points.map((p, i) => `${i ? 'L' : 'M'}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join('');
  const summary = opts.summary || `${opts.title}: ${points.length} readings`;
  return h('figure', { class: 'chart' },
    svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': summary },
      opts.band ? svg('g', { class: 'band' },
        svg('rect', {
          x: X(opts.band.from), y: PAD.t, width: Math.max(2, X(opts.band.to) - X(opts.band.from)),
          height: H - PAD.t - PAD.b,
        }),
        svg('text', { x: X(opts.band.from) + 4, y: PAD.t + 14 }, opts.band.label)) : null,
      yTicks.map((v) => svg('g', { class: 'grid' },
        svg('line', { x1: PAD.l, x2: W - PAD.r, y1: Y(v), y2: Y(v) }),
        svg('text', { x: PAD.l - 6, y: Y(v) + 4, 'text-anchor': 'end' }, `${Math.round(v)}${opts.unit}`))),
      ticks.map((t, i) => svg('text', {
        class: 'tick', x: X(t), y: H - 8, 'text-anchor': i === 0 ? 'start' : i === ticks.length - 1 ? 'end' : 'middle',
      }, fmt.format(new Date(t)))),
      points.length ? svg('path', { class: 'line', d: path }) : null,
      points.length === 1 ? svg('circle', { class: 'dot', cx: X(points[0][0]), cy: Y(points[0][1]), r: 3 }) : null,
    ),
    h('figcaption', {}, summary));
}
