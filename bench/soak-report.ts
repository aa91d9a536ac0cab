/** The soak benchmark's figures: one sample, the slope of a series, and the chart. */
export interface SoakSample {
  /** Seconds since the load started. */
  t: number;
  rssMiB: number;
  heapMiB: number;
  fds: number;
  lag: number;
  /** Predictions acknowledged so far (the service's counter). */
  scored: number;
  /** Predictions that arrived in this sample's window, and their p99 end-to-end latency. */
  arrived: number;
  p99Ms: number;
}

/** Least-squares slope of `value` over the samples after `fromS` seconds, per hour. */
export function slopePerHour(samples: readonly SoakSample[], fromS: number, value: (s: SoakSample) => number): number {
  const xs = samples.filter((s) => s.t >= fromS);
  if (xs.length < 2) return 0;
  const mt = xs.reduce((a, s) => a + s.t, 0) / xs.length;
  const mv = xs.reduce((a, s) => a + value(s), 0) / xs.length;
  let num = 0;
  let den = 0;
  for (const s of xs) {
    num += (s.t - mt) * (value(s) - mv);
    den += (s.t - mt) ** 2;
  }
  return den === 0 ? 0 : (num / den) * 3600;
}

const W = 720;
const H = 300;
const PAD = 40;

/** An SVG line chart of RSS and heap (MiB, left axis) and p99 (ms, right axis) over time. */
export function soakChart(samples: readonly SoakSample[]): string {
  const tMax = Math.max(1, ...samples.map((s) => s.t));
  const mMax = niceMax(Math.max(1, ...samples.map((s) => s.rssMiB)));
  const pMax = niceMax(Math.max(1, ...samples.map((s) => s.p99Ms)));
  const x = (t: number) => PAD + (t / tMax) * (W - 2 * PAD);
  const y = (v: number, max: number) => H - PAD - (v / max) * (H - 2 * PAD);
  const line = (color: string, pts: [number, number][]) =>
    `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(' ')}"/>`;
  const minutes = Array.from({ length: Math.floor(tMax / 300) + 1 }, (_, i) => i * 300);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">
<rect width="${W}" height="${H}" fill="white"/>
<line x1="${PAD}" y1="${H - PAD}" x2="${W - PAD}" y2="${H - PAD}" stroke="#888"/>
<line x1="${PAD}" y1="${PAD}" x2="${PAD}" y2="${H - PAD}" stroke="#888"/>
<line x1="${W - PAD}" y1="${PAD}" x2="${W - PAD}" y2="${H - PAD}" stroke="#888"/>
${minutes.map((t) => `<text x="${x(t).toFixed(1)}" y="${H - PAD + 14}" text-anchor="middle">${t / 60} min</text>`).join('\n')}
<text x="${PAD - 4}" y="${PAD - 6}" text-anchor="start">${mMax} MiB</text>
<text x="${W - PAD + 4}" y="${PAD - 6}" text-anchor="end">${pMax} ms</text>
${line('#1f77b4', samples.map((s) => [x(s.t), y(s.rssMiB, mMax)]))}
${line('#2ca02c', samples.map((s) => [x(s.t), y(s.heapMiB, mMax)]))}
${line('#d62728', samples.map((s) => [x(s.t), y(s.p99Ms, pMax)]))}
<text x="${PAD + 8}" y="${PAD + 12}" fill="#1f77b4">RSS (MiB)</text>
<text x="${PAD + 80}" y="${PAD + 12}" fill="#2ca02c">heap used (MiB)</text>
<text x="${PAD + 190}" y="${PAD + 12}" fill="#d62728">p99 latency (ms, right axis)</text>
</svg>
`;
}

function niceMax(v: number): number {
  const step = 10 ** Math.floor(Math.log10(v));
  return Math.ceil(v / step) * step;
}
