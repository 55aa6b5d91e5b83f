// charts.js - the dashboard's charts as SVG: a line chart (trackers over
// time), a horizontal bar chart (top artists, genres, decades) and a
// heatmap (plays by hour x weekday).
//
// Why no chart library: the UI needs three simple chart types; a library
// would be tens to hundreds of KB embedded in the binary for them, would
// need a build step to fetch and vendor it, and most want inline styles the
// Content-Security-Policy forbids. These helpers are ~200 lines, draw with
// CSS classes (so light/dark mode just works) and leave the numbers on the
// elements (data-*) and in a table beside each chart for screen readers.
//
// Every helper returns <figure class="chart" data-chart=NAME>: a caption,
// the <svg role="img"> with an aria-label, and a <details> data table.

import {h, s, fmtNumber} from './dom.js';

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

function figure(name, caption, svg, table, extra) {
  return h('figure', {class: 'chart', dataset: {chart: name}},
    h('figcaption', null, caption), svg, extra || null,
    h('details', null, h('summary', null, 'Show the numbers'), h('div', {class: 'table-wrap'}, table)));
}

function dataTable(headers, rows) {
  return h('table', null,
    h('thead', null, h('tr', null, headers.map((t, i) => h('th', {scope: 'col', class: i ? 'num' : null}, t)))),
    h('tbody', null, rows.map((r) => h('tr', null, r.map((c, i) => (i ? h('td', {class: 'num'}, c) : h('th', {scope: 'row'}, c)))))));
}

// Round numbers for an axis from 0 to max: [step, top].
function niceScale(max, ticks = 4) {
  if (!(max > 0)) return [1, ticks];
  const raw = max / ticks, mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((v) => v >= raw);
  return [step, Math.ceil(max / step) * step];
}

function emptyNote(name, caption, note) {
  return h('figure', {class: 'chart', dataset: {chart: name, empty: 'true'}},
    h('figcaption', null, caption), h('p', {class: 'muted'}, note));
}

// series: [{name, points: [{x: 'YYYY-MM-DD' or label, y: number}]}], all
// series over the same x values in the same order.
// area: fill under each line; xLabel: the numbers table's first heading;
// width: of the drawing in px at 100% (a phone wants ~340 so 13 px text stays
// readable when scaled down); labels: how many x labels at most.
export function lineChart(name, caption, series, {emptyText = 'No data yet.', area = false, xLabel = 'Day', width = 520, labels = 6} = {}) {
  const xs = series.length ? series[0].points.map((p) => p.x) : [];
  if (xs.length === 0) return emptyNote(name, caption, emptyText);
  const W = width, H = 240, L = 44, R = 14, T = 12, B = 28;
  const maxY = Math.max(0, ...series.flatMap((se) => se.points.map((p) => p.y)));
  const [step, top] = niceScale(maxY);
  const x = (i) => L + (xs.length === 1 ? (W - L - R) / 2 : (i * (W - L - R)) / (xs.length - 1));
  const y = (v) => T + (H - T - B) * (1 - v / top);
  const svg = s('svg', {viewBox: `0 0 ${W} ${H}`, role: 'img', class: 'chart',
    'aria-label': `${caption}: ${series.map((se) => `${se.name} from ${fmtNumber(se.points[0].y)} to ${fmtNumber(se.points[se.points.length - 1].y)}`).join('; ')}`});
  const axis = s('g', {class: 'axis'});
  for (let v = 0; v <= top + step / 2; v += step) {
    axis.append(s('line', {class: 'grid-line', x1: L, x2: W - R, y1: y(v), y2: y(v)}),
      s('text', {x: L - 6, y: y(v) + 4, 'text-anchor': 'end'}, fmtNumber(v)));
  }
  const labelEvery = Math.max(1, Math.ceil(xs.length / labels));
  xs.forEach((lx, i) => {
    // The last label always shows; one just before it would overlap it.
    if ((i % labelEvery === 0 && xs.length - 1 - i >= labelEvery) || i === xs.length - 1) {
      axis.append(s('text', {x: x(i), y: H - 8, 'text-anchor': i === 0 ? 'start' : i === xs.length - 1 ? 'end' : 'middle'}, lx));
    }
  });
  svg.append(axis);
  series.forEach((se, k) => {
    const d = se.points.map((p, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y(p.y).toFixed(1)}`).join(' ');
    const g = s('g', {class: `series series-${k % 4}`, dataset: {series: se.name}});
    if (area) {
      const base = y(0).toFixed(1);
      g.append(s('path', {class: `area series-${k % 4}`, d: `${d} L${x(xs.length - 1).toFixed(1)},${base} L${x(0).toFixed(1)},${base} Z`}));
    }
    g.append(s('path', {class: `line series-${k % 4}`, d}));
    se.points.forEach((p, i) => g.append(s('circle', {cx: x(i), cy: y(p.y), r: xs.length > 60 ? 1.5 : 3,
      class: `series-${k % 4}`, dataset: {x: p.x, y: p.y}}, s('title', null, `${se.name}, ${p.x}: ${fmtNumber(p.y)}`))));
    svg.append(g);
  });
  const legend = h('div', {class: 'legend'}, series.map((se, k) => h('span', {class: `s${k % 4}`}, se.name)));
  const table = dataTable([xLabel, ...series.map((se) => se.name)],
    xs.map((lx, i) => [lx, ...series.map((se) => fmtNumber(se.points[i].y))]));
  return figure(name, caption, svg, table, legend);
}

// items: [{label, value, note?}] drawn top to bottom as given.
export function barChart(name, caption, items, {emptyText = 'No data yet.', valueText = fmtNumber} = {}) {
  if (items.length === 0) return emptyNote(name, caption, emptyText);
  const W = 420, row = 26, L = 140, R = 44, H = items.length * row + 8;
  const max = Math.max(...items.map((it) => it.value), 1);
  const svg = s('svg', {viewBox: `0 0 ${W} ${H}`, role: 'img', class: 'chart',
    'aria-label': `${caption}: ${items.slice(0, 5).map((it) => `${it.label} ${valueText(it.value)}`).join(', ')}${items.length > 5 ? ', …' : ''}`});
  items.forEach((it, i) => {
    const w = Math.max(1, ((W - L - R) * it.value) / max), yy = 4 + i * row;
    const label = it.label.length > 18 ? `${it.label.slice(0, 17)}…` : it.label;
    svg.append(s('g', {class: 'bar-item', dataset: {label: it.label, value: it.value}},
      s('title', null, `${it.label}: ${valueText(it.value)}`),
      s('text', {x: L - 8, y: yy + row / 2 + 4, 'text-anchor': 'end'}, label),
      s('rect', {class: 'bar', x: L, y: yy + 3, width: w.toFixed(1), height: row - 8, rx: 3}),
      s('text', {x: L + w + 6, y: yy + row / 2 + 4}, valueText(it.value))));
  });
  return figure(name, caption, svg, dataTable(['', 'Value'], items.map((it) => [it.label, valueText(it.value)])));
}

// lineChart options for a chart drawn for a phone (narrowAware's argument):
// narrower in its own units, so its labels stay ~13 px instead of shrinking
// to 8 px with a 520-unit drawing, and 3 labels of up to 7 characters fit.
export const lineSize = (narrow) => (narrow ? {width: 340, labels: 3} : {});

// cells: [{weekday 0=Sunday..6, hour 0..23, value}]; missing cells are 0.
// vertical: hours down and weekdays across (7 wide columns instead of 24
// thin ones), for a phone, where 24 columns shrink the labels to ~5 px.
export function heatmap(name, caption, cells, {emptyText = 'No plays yet.', vertical = false} = {}) {
  const grid = Array.from({length: 7}, () => new Array(24).fill(0));
  for (const c of cells) if (c.weekday >= 0 && c.weekday < 7 && c.hour >= 0 && c.hour < 24) grid[c.weekday][c.hour] += c.value;
  const max = Math.max(0, ...grid.flat());
  if (max === 0) return emptyNote(name, caption, emptyText);
  const cw = vertical ? 40 : 24, ch = vertical ? 15 : 22, L = vertical ? 44 : 40, T = 18;
  const W = L + (vertical ? 7 : 24) * cw + 4, H = T + (vertical ? 24 : 7) * ch + 4;
  // Where the cell of (weekday d, hour hr) goes in either orientation.
  const at = (d, hr) => (vertical ? {x: L + d * cw, y: T + hr * ch} : {x: L + hr * cw, y: T + d * ch});
  const svg = s('svg', {viewBox: `0 0 ${W} ${H}`, role: 'img', class: 'chart',
    'aria-label': `${caption}: busiest ${(() => { let b = [0, 0]; grid.forEach((r, d) => r.forEach((v, hr) => { if (v > grid[b[0]][b[1]]) b = [d, hr]; })); return `${WEEKDAYS[b[0]]} ${b[1]}:00 with ${fmtNumber(max)} plays`; })()}`});
  const axis = s('g', {class: 'axis'});
  for (let hr = 0; hr < 24; hr += 3) {
    axis.append(vertical ? s('text', {x: L - 6, y: T + hr * ch + ch / 2 + 4, 'text-anchor': 'end'}, `${hr}:00`)
      : s('text', {x: L + hr * cw + cw / 2, y: 12, 'text-anchor': 'middle'}, String(hr)));
  }
  WEEKDAYS.forEach((d, i) => axis.append(vertical ? s('text', {x: L + i * cw + cw / 2, y: 12, 'text-anchor': 'middle'}, d)
    : s('text', {x: L - 6, y: T + i * ch + ch / 2 + 4, 'text-anchor': 'end'}, d)));
  svg.append(axis);
  grid.forEach((r, d) => r.forEach((v, hr) => {
    // Mix the empty and full colours by the cell's share of the maximum.
    const rect = s('rect', {class: 'cell', ...at(d, hr), width: cw, height: ch, rx: 2,
      dataset: {weekday: d, hour: hr, value: v}}, s('title', null, `${WEEKDAYS[d]} ${hr}:00–${hr + 1}:00: ${fmtNumber(v)} plays`));
    rect.style.fill = `color-mix(in srgb, var(--heat-1) ${Math.round((v / max) * 100)}%, var(--heat-0))`;
    svg.append(rect);
  }));
  const table = dataTable(['Weekday', ...Array.from({length: 24}, (_, i) => String(i))],
    grid.map((r, d) => [WEEKDAYS[d], ...r.map((v) => fmtNumber(v))]));
  const fig = figure(name, caption, svg, table);
  fig.dataset.orientation = vertical ? 'vertical' : 'horizontal';
  return fig;
}

// An element holding build(narrow) that builds again when the screen
// crosses the phone width (max-width: 640px, style.css's breakpoint), so a
// chart drawn for a phone turns when the phone does. Stops listening when
// signal aborts (the page was left).
export function narrowAware(build, signal) {
  const mq = window.matchMedia('(max-width: 640px)');
  const box = h('div', {class: 'narrow-aware'}, build(mq.matches));
  const onChange = () => box.replaceChildren(build(mq.matches));
  mq.addEventListener('change', onChange);
  if (signal) signal.addEventListener('abort', () => mq.removeEventListener('change', onChange), {once: true});
  return box;
}
