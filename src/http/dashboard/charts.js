// Small SVG line charts, drawn anew on each update: a time axis, a y axis from zero with a few
// round ticks, one line per series (broken where a value is missing) and a hover read-out.

const SVG = 'http://www.w3.org/2000/svg';
const HEIGHT = 168;
const PAD = { top: 10, right: 12, bottom: 22, left: 52 };

function el(name, attrs = {}, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (parent) parent.appendChild(node);
  return node;
}

/** A round step so that `max` spans about `count` ticks: 1, 2 or 5 times a power of ten. */
export function niceStep(max, count = 4) {
  if (!(max > 0)) return 1;
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  return (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10) * mag;
}

function clock(t) {
  return new Date(t * 1000).toLocaleTimeString('en-GB', { hour12: false });
}

/**
 * Draws `series` ({label, color, values: (number|undefined)[]}, values aligned with `times`, in
 * seconds) into `host`, over [from, to]. `format` writes a value for the axis and the read-out.
 * `empty` is the message shown when no series has two points yet.
 */
export function drawLineChart(host, { times, series, from, to, format, empty = 'no data yet', area = false }) {
  const width = Math.max(240, Math.floor(host.clientWidth || 480));
  const plotW = width - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const svg = el('svg', { viewBox: `0 0 ${width} ${HEIGHT}`, width, height: HEIGHT, role: 'img', class: 'chart-svg' });

  let max = 0;
  let drawable = 0;
  for (const s of series) {
    let n = 0;
    s.values.forEach((v, i) => {
      if (v === undefined || !Number.isFinite(v) || times[i] < from) return;
      n++;
      if (v > max) max = v;
    });
    if (n >= 2) drawable++;
  }
  const step = niceStep(max);
  const top = max > 0 ? Math.ceil(max / step) * step : step * 4;
  const x = (t) => PAD.left + ((t - from) / (to - from)) * plotW;
  const y = (v) => PAD.top + plotH - (v / top) * plotH;

  const grid = el('g', { class: 'grid' }, svg);
  if (drawable === 0) {
    // Blank grid lines, no axis figures: nothing to measure yet.
    for (let i = 0; i <= 4; i++) el('line', { x1: PAD.left, x2: PAD.left + plotW, y1: PAD.top + (plotH * i) / 4, y2: PAD.top + (plotH * i) / 4 }, grid);
    el('text', { x: PAD.left + plotW / 2, y: PAD.top + plotH / 2 + 4, 'text-anchor': 'middle', class: 'empty' }, svg).textContent = empty;
    host.replaceChildren(svg);
    host.dataset.state = 'empty';
    return;
  }
  for (let i = 0; i <= Math.round(top / step); i++) {
    const v = i * step;
    el('line', { x1: PAD.left, x2: PAD.left + plotW, y1: y(v), y2: y(v) }, grid);
    el('text', { x: PAD.left - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'tick' }, grid).textContent = format(v);
  }
  const span = to - from;
  const tickEvery = span > 240 ? 60 : span > 120 ? 30 : span > 50 ? 15 : 10;
  for (let t = Math.ceil(from / tickEvery) * tickEvery; t <= to; t += tickEvery) {
    el('text', { x: x(t), y: HEIGHT - 6, 'text-anchor': 'middle', class: 'tick' }, grid).textContent = clock(t);
  }

  series.forEach((s, index) => {
    let d = '';
    let pen = false;
    let first;
    let last;
    s.values.forEach((v, i) => {
      if (v === undefined || !Number.isFinite(v) || times[i] < from) {
        pen = false;
        return;
      }
      const px = x(times[i]).toFixed(1);
      const py = y(v).toFixed(1);
      d += `${pen ? 'L' : 'M'}${px},${py}`;
      pen = true;
      first ??= px;
      last = { px, py };
    });
    if (d === '') return;
    if (area && index === 0) {
      el('path', { d: `${d}L${last.px},${y(0)}L${first},${y(0)}Z`, class: 'area' }, svg).style.fill = s.color;
    }
    // Colours may be CSS variables, which only style properties resolve.
    el('path', { d, class: 'line' }, svg).style.stroke = s.color;
    el('circle', { cx: last.px, cy: last.py, r: 2.5 }, svg).style.fill = s.color;
  });

  // Hover: a vertical rule at the nearest scrape and each series' value there.
  const rule = el('line', { y1: PAD.top, y2: PAD.top + plotH, class: 'rule', visibility: 'hidden' }, svg);
  const readout = el('text', { y: PAD.top + 12, class: 'readout', visibility: 'hidden' }, svg);
  el('rect', { x: PAD.left, y: PAD.top, width: plotW, height: plotH, fill: 'transparent', class: 'hover' }, svg).addEventListener(
    'mousemove',
    (ev) => {
      const box = svg.getBoundingClientRect();
      const t = from + ((ev.clientX - box.left - PAD.left) / plotW) * (to - from);
      let best = -1;
      times.forEach((ti, i) => {
        if (ti >= from && (best < 0 || Math.abs(ti - t) < Math.abs(times[best] - t))) best = i;
      });
      if (best < 0) return;
      const px = x(times[best]);
      rule.setAttribute('x1', px);
      rule.setAttribute('x2', px);
      const parts = series.map((s) => `${s.label} ${s.values[best] === undefined || !Number.isFinite(s.values[best]) ? '–' : format(s.values[best])}`);
      readout.textContent = `${clock(times[best])}  ${parts.join('  ')}`;
      const right = px > PAD.left + plotW / 2;
      readout.setAttribute('x', right ? px - 6 : px + 6);
      readout.setAttribute('text-anchor', right ? 'end' : 'start');
      rule.setAttribute('visibility', 'visible');
      readout.setAttribute('visibility', 'visible');
    },
  );
  svg.addEventListener('mouseleave', () => {
    rule.setAttribute('visibility', 'hidden');
    readout.setAttribute('visibility', 'hidden');
  });
  host.replaceChildren(svg);
  host.dataset.state = 'data';
}
