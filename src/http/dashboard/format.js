// How the dashboard writes numbers: short, with the unit, and the same way everywhere.

const missing = (v) => v === undefined || v === null || Number.isNaN(v);

/** 1234567 -> "1,234,567" (whole counts). */
export function formatCount(v) {
  if (missing(v)) return '–';
  return Math.round(v).toLocaleString('en-US');
}

/** A plain number, short: 0.5, 12.3, 1.2k, 3.4M. */
export function formatNumber(v) {
  if (missing(v)) return '–';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '-∞';
  const a = Math.abs(v);
  if (a >= 1e9) return `${trim(v / 1e9)}G`;
  if (a >= 1e6) return `${trim(v / 1e6)}M`;
  if (a >= 1e4) return `${trim(v / 1e3)}k`;
  if (a >= 100 || Number.isInteger(v)) return String(Math.round(v));
  return trim(v);
}

function trim(v) {
  const a = Math.abs(v);
  const s = a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2);
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

/** Events per second: "0/s", "3.5/s", "12.4k/s". */
export function formatRate(v) {
  return missing(v) ? '–' : `${formatNumber(v)}/s`;
}

/** A duration in seconds with the unit that reads best: "850 µs", "12.5 ms", "1.25 s". */
export function formatSeconds(v) {
  if (missing(v)) return '–';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '-∞';
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a < 1e-3) return `${trim(v * 1e6)} µs`;
  if (a < 1) return `${trim(v * 1e3)} ms`;
  if (a < 120) return `${trim(v)} s`;
  return `${trim(v / 60)} min`;
}

/** Bytes in binary units: "512 B", "84.2 MiB". */
export function formatBytes(v) {
  if (missing(v)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let x = v;
  while (Math.abs(x) >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${i === 0 ? Math.round(x) : trim(x)} ${units[i]}`;
}

/** A share from 0 to 1 as a percentage: "10 %", "0.5 %". */
export function formatPercent(v) {
  if (missing(v)) return '–';
  return `${trim(v * 100)} %`;
}
