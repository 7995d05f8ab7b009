/**
 * Inline SVG charts, no library: a latency percentile curve with an
 * HdrHistogram-style log "percentile" axis, grouped bars (offered vs
 * achieved), stacked bars. Colours come from CSS classes (k1…k8, seg-*),
 * so the charts follow the light/dark scheme and print.
 */
import { html, num, us, type Raw } from './escape.js';

export interface CurveSeries {
  label: string;
  /** [percentile, value µs], percentile in 0..100 (fractions 0..1 are detected and scaled). */
  points: ReadonlyArray<readonly [number, number]>;
  /** Colour class k1…k8. */
  colour: number;
  dashed?: boolean;
}

/** x position of a percentile on the log axis: 1/(1−p) in decades; 0 → 0, 90 → 1, 99 → 2, 99.9 → 3. */
export function percentileX(p: number): number {
  if (p >= 100) return Number.POSITIVE_INFINITY;
  return Math.log10(1 / (1 - Math.max(0, p) / 100));
}

/** A tick label for decade d: 0, 90, 99, 99.9, 99.99 … */
export function percentileTick(d: number): string {
  if (d === 0) return '0';
  if (d === 1) return '90';
  return `99.${'9'.repeat(d - 2)}`.replace(/\.$/, '');
}

/** Round-number axis maximum and step for [0, max]. */
export function niceScale(max: number, ticks = 5): { max: number; step: number } {
  if (!(max > 0) || !Number.isFinite(max)) return { max: 1, step: 0.2 };
  const raw0 = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw0));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw0) ?? 10 * mag;
  return { max: Math.ceil(max / step) * step, step };
}

function normalisePoints(points: CurveSeries['points']): Array<[number, number]> {
  const asFraction = points.length > 0 && points.every(([p]) => p <= 1);
  return points.map(([p, v]) => [asFraction ? p * 100 : p, v] as [number, number]).filter(([p, v]) => Number.isFinite(p) && Number.isFinite(v));
}

const W = 640;

export function percentileChart(series: CurveSeries[], caption: string, note = ''): Raw {
  const norm = series.map((s) => ({ ...s, pts: normalisePoints(s.points) })).filter((s) => s.pts.length > 0);
  if (norm.length === 0) return html`<p class="muted">No latency distribution recorded.</p>`;
  const finiteX = norm.flatMap((s) => s.pts.map(([p]) => percentileX(p))).filter(Number.isFinite);
  const decades = Math.max(2, Math.min(7, Math.ceil(Math.max(0, ...finiteX) + 1e-9)));
  const maxV = Math.max(...norm.flatMap((s) => s.pts.map(([, v]) => v)));
  const minV = Math.max(1, Math.min(...norm.flatMap((s) => s.pts.map(([, v]) => v)).filter((v) => v > 0)));
  const inMs = maxV >= 2000;
  const unit = (vUs: number): number => (inMs ? vUs / 1000 : vUs);
  // Curves that differ by orders of magnitude (a slow tail next to a fast protocol) get a log latency axis.
  const logY = maxV / minV > 100;
  const y = niceScale(unit(maxV));
  const yLo = logY ? 10 ** Math.floor(Math.log10(unit(minV))) : 0;
  const yHi = logY ? 10 ** Math.ceil(Math.log10(unit(maxV))) : y.max;
  const H = 300;
  const L = 58;
  const R = 34;
  const T = 12;
  const B = 40;
  const px = (p: number): number => L + (Math.min(percentileX(p), decades) / decades) * (W - L - R);
  const frac = (v: number): number => (logY ? (Math.log10(Math.max(v, yLo)) - Math.log10(yLo)) / (Math.log10(yHi) - Math.log10(yLo)) : v / yHi);
  const py = (vUs: number): number => T + (1 - frac(unit(vUs))) * (H - T - B);
  const grid: Raw[] = [];
  for (let d = 0; d <= decades; d++) {
    const x = L + (d / decades) * (W - L - R);
    grid.push(html`<line class="grid" x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${T}" y2="${H - B}"></line><text x="${x.toFixed(1)}" y="${H - B + 14}" text-anchor="middle">${percentileTick(d)}</text>`);
  }
  const yTicks: number[] = [];
  if (logY) for (let v = yLo; v <= yHi * 1.0001; v *= 10) yTicks.push(v);
  else for (let v = 0; v <= y.max + 1e-9; v += y.step) yTicks.push(v);
  for (const v of yTicks) {
    const yy = T + (1 - frac(v)) * (H - T - B);
    grid.push(html`<line class="grid" x1="${L}" x2="${W - R}" y1="${yy.toFixed(1)}" y2="${yy.toFixed(1)}"></line><text x="${L - 6}" y="${(yy + 4).toFixed(1)}" text-anchor="end">${num(v, v < 1 ? 2 : !logY && y.step < 1 ? 1 : 0)}</text>`);
  }
  const paths = norm.map((s) => {
    const d = s.pts.map(([p, v], i) => `${i === 0 ? 'M' : 'L'}${px(p).toFixed(1)},${py(v).toFixed(1)}`).join(' ');
    const marks = [50, 90, 99, 99.9].map((q) => s.pts.find(([p]) => p >= q)).filter((x): x is [number, number] => x !== undefined)
      .map(([p, v]) => `p${num(p, p % 1 === 0 ? 0 : 2)} ${us(v)}`).join(', ');
    return html`<path class="curve k${((s.colour - 1) % 8) + 1}${s.dashed ? ' unc' : ''}" d="${d}"><title>${s.label}: ${marks}</title></path>`;
  });
  const legend = norm.filter((s) => !s.dashed).map((s) => html`<span class="k${((s.colour - 1) % 8) + 1}"><span class="sw k"></span>${s.label}</span>`);
  return html`<figure class="chart"><figcaption>${caption}</figcaption>
<svg class="chart percentile" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${caption}">
${grid}<line class="axis" x1="${L}" x2="${L}" y1="${T}" y2="${H - B}"></line><line class="axis" x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}"></line>
<text class="lbl" x="${(L + W - R) / 2}" y="${H - 6}" text-anchor="middle">percentile (log scale: 1/(1−p))</text>
<text class="lbl" x="12" y="${(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 12 ${(T + H - B) / 2})">latency (${inMs ? 'ms' : 'µs'}${logY ? ', log scale' : ''})</text>
${paths}</svg>
<div class="legend">${legend}${norm.some((s) => s.dashed) ? html`<span>dashed: uncorrected (from the actual send)</span>` : ''}${note ? html`<span>${note}</span>` : ''}</div></figure>`;
}

const clipLabel = (s: string, n = 34): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

export interface BarRow {
  label: string;
  colour: number;
  offered: number;
  achieved: number;
}

/** Horizontal bars per row: offered (dashed outline) and achieved (filled). */
export function offeredAchievedChart(rows: BarRow[], caption: string, unit = 'msg/s'): Raw {
  if (rows.length === 0) return html``;
  const L = 220;
  const R = 90;
  const rowH = 34;
  const T = 8;
  const H = T + rows.length * rowH + 30;
  const s = niceScale(Math.max(...rows.flatMap((r) => [r.offered, r.achieved])));
  const sx = (v: number): number => (v / s.max) * (W - L - R);
  const ticks: Raw[] = [];
  for (let v = 0; v <= s.max + 1e-9; v += s.step) {
    const x = L + sx(v);
    ticks.push(html`<line class="grid" x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${T}" y2="${H - 30}"></line><text x="${x.toFixed(1)}" y="${H - 16}" text-anchor="middle">${num(v)}</text>`);
  }
  const bars = rows.map((r, i) => {
    const y0 = T + i * rowH;
    const k = `k${((r.colour - 1) % 8) + 1}`;
    return html`<g class="${k}"><text x="${L - 8}" y="${y0 + 19}" text-anchor="end"><title>${r.label}</title>${clipLabel(r.label)}</text>
<rect class="offered" x="${L}" y="${y0 + 3}" width="${Math.max(1, sx(r.offered)).toFixed(1)}" height="12"><title>${r.label}: offered ${num(r.offered, 1)} ${unit}</title></rect>
<rect class="fillk" x="${L}" y="${y0 + 17}" width="${Math.max(1, sx(r.achieved)).toFixed(1)}" height="12"><title>${r.label}: achieved ${num(r.achieved, 1)} ${unit}</title></rect>
<text x="${(L + Math.max(sx(r.offered), sx(r.achieved)) + 6).toFixed(1)}" y="${y0 + 19}">${num(r.achieved, r.achieved < 10 ? 1 : 0)}${r.offered > 0 ? ` (${num((r.achieved / r.offered) * 100, 0)} %)` : ''}</text></g>`;
  });
  return html`<figure class="chart"><figcaption>${caption}</figcaption>
<svg class="chart bars" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${caption}">${ticks}${bars}
<text class="lbl" x="${(L + W - R) / 2}" y="${H - 2}" text-anchor="middle">${unit}</text></svg>
<div class="legend"><span>dashed outline: offered rate</span><span>filled: achieved rate (% of offered)</span></div></figure>`;
}

export interface StackRow {
  label: string;
  segments: Array<{ key: string; label: string; value: number }>;
}

/** Horizontal stacked bars: one row per run, segments by class seg-<key>. */
export function stackedChart(rows: StackRow[], caption: string, unit = 'B', legendNote = ''): Raw {
  if (rows.length === 0) return html``;
  const L = 220;
  const R = 70;
  const rowH = 26;
  const T = 8;
  const H = T + rows.length * rowH + 30;
  const total = (r: StackRow): number => r.segments.reduce((a, sgm) => a + Math.max(0, sgm.value), 0);
  const s = niceScale(Math.max(...rows.map(total)));
  const sx = (v: number): number => (v / s.max) * (W - L - R);
  const ticks: Raw[] = [];
  for (let v = 0; v <= s.max + 1e-9; v += s.step) {
    const x = L + sx(v);
    ticks.push(html`<line class="grid" x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${T}" y2="${H - 30}"></line><text x="${x.toFixed(1)}" y="${H - 16}" text-anchor="middle">${num(v)}</text>`);
  }
  const keys = new Map<string, string>();
  const bars = rows.map((r, i) => {
    const y0 = T + i * rowH;
    let x = L;
    const segs = r.segments.filter((g) => g.value > 0).map((g) => {
      keys.set(g.key, g.label);
      const w = sx(g.value);
      const out = html`<rect class="seg-${g.key}" x="${x.toFixed(1)}" y="${y0 + 4}" width="${w.toFixed(1)}" height="16"><title>${r.label}: ${g.label} ${num(g.value, 1)} ${unit}</title></rect>`;
      x += w;
      return out;
    });
    return html`<text x="${L - 8}" y="${y0 + 16}" text-anchor="end"><title>${r.label}</title>${clipLabel(r.label)}</text>${segs}<text x="${(x + 6).toFixed(1)}" y="${y0 + 16}">${num(total(r), total(r) < 10 ? 1 : 0)} ${unit}</text>`;
  });
  const legend = [...keys].map(([k, label]) => html`<span><span class="sw seg-${k}"></span>${label}</span>`);
  return html`<figure class="chart"><figcaption>${caption}</figcaption>
<svg class="chart stacked" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${caption}">${ticks}${bars}
<text class="lbl" x="${(L + W - R) / 2}" y="${H - 2}" text-anchor="middle">${unit} per message</text></svg>
<div class="legend">${legend}${legendNote ? html`<span>${legendNote}</span>` : ''}</div></figure>`;
}

