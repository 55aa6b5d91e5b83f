// dom.js - small helpers every page uses: building elements without
// innerHTML (text is always set as text, so data from Spotify can never
// become markup), number/date/duration formatting, announcements for
// screen readers, and the job progress bar.

const SVG_NS = 'http://www.w3.org/2000/svg';

// Loads the start page afresh once the session is gone (log out, delete my
// data): a full navigation to '/', not '#/' and a reload, whose hash change
// would first render the dashboard again and have its requests refused.
export function reloadHome() {
  location.assign('/');
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

// h('a', {href: '#/x', class: 'y'}, 'text', child, [more]) -> HTMLElement
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

// The same for SVG elements (charts.js).
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const numberFmt = new Intl.NumberFormat('en');
export function fmtNumber(n) {
  return n === null || n === undefined ? '–' : numberFmt.format(n);
}

export function fmtDate(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toISOString().slice(0, 10);
}

export function fmtDateTime(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
}

export function fmtDuration(ms) {
  if (ms === null || ms === undefined) return '–';
  const total = Math.round(ms / 1000);
  const hours = Math.floor(total / 3600), min = Math.floor((total % 3600) / 60), sec = total % 60;
  if (hours > 0) return `${hours} h ${String(min).padStart(2, '0')} min`;
  return `${min}:${String(sec).padStart(2, '0')}`;
}

export function artistNames(track) {
  return (track && track.artists ? track.artists : []).map((a) => a.name).filter(Boolean).join(', ');
}

// Says msg to screen readers (the aria-live region of index.html).
export function announce(msg) {
  const live = document.getElementById('live');
  if (live) live.textContent = msg;
}

export function errorBox(err) {
  return h('p', {class: 'banner error', role: 'alert'}, err && err.message ? err.message : String(err));
}

// A progress bar for a job (api.js pollJob feeds it): role=progressbar with
// aria-valuenow, and the state in words; the finished state is announced.
export function progressBar(label) {
  const fill = h('div', {class: 'fill'});
  const bar = h('div', {class: 'bar', role: 'progressbar', 'aria-label': label,
    'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': '0'}, fill);
  const text = h('div', {class: 'text', 'aria-live': 'polite'}, 'Waiting to start…');
  const root = h('div', {class: 'progress', dataset: {state: 'queued'}}, bar, text);
  return {
    el: root,
    update(job) {
      const total = job.progress ? job.progress.total : 0, done = job.progress ? job.progress.done : 0;
      let pct = total > 0 ? Math.min(100, Math.round((done * 100) / total)) : 0;
      if (job.state === 'done') pct = 100;
      fill.style.width = `${pct}%`; // CSSOM, allowed by the CSP (no style attribute)
      bar.setAttribute('aria-valuenow', String(pct));
      root.dataset.state = job.state;
      root.classList.toggle('failed', job.state === 'failed');
      let words;
      if (job.state === 'queued') words = 'Waiting to start…';
      else if (job.state === 'running') words = `${pct}% — ${job.message || 'working'}` + (total ? ` (${done} of ${total})` : '');
      else if (job.state === 'deferred') words = `Paused by Spotify's rate limit; resumes ${fmtDateTime(job.run_after)}`;
      else if (job.state === 'done') words = 'Done' + (job.message && job.message !== 'done' ? ` — ${job.message}` : '');
      else words = `Failed: ${job.error || job.message || 'unknown error'}`;
      text.textContent = words;
    },
  };
}

// Gives every cell of the wide data tables under root (more than
// STACK_COLUMNS columns) its column's heading as data-label and marks the
// table "stack", so style.css can show each row as a wrapped line of
// "label value" pairs on a phone instead of dropping columns. Explicit
// ARIA roles keep the table a table for screen readers once CSS changes
// its display. Narrower tables fit a phone as they are; the numbers
// tables of charts (inside figure.chart) scroll inside their box.
const STACK_COLUMNS = 4;
export function labelCells(root) {
  const tables = root.matches && root.matches('table') ? [root] : root.querySelectorAll ? root.querySelectorAll('table') : [];
  for (const table of tables) {
    if (table.closest('figure.chart') || !table.tHead) continue;
    const heads = [...table.tHead.rows[0].cells].map((c) => c.textContent.trim());
    if (heads.length <= STACK_COLUMNS) continue;
    table.classList.add('stack');
    table.setAttribute('role', 'table');
    for (const row of table.rows) {
      row.setAttribute('role', 'row');
      [...row.cells].forEach((cell, i) => {
        if (cell.tagName === 'TH') cell.setAttribute('role', cell.scope === 'row' ? 'rowheader' : 'columnheader');
        else {
          cell.setAttribute('role', 'cell');
          cell.dataset.label = heads[i] || '';
        }
      });
    }
  }
}
