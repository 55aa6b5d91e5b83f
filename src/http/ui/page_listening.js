// page_listening.js - the listening dashboard (issue 19): listening time
// and plays over a chosen period with the previous period beside it, the
// top tracks, artists and albums by plays or by time with their share of
// listening, and a drill-down page per track, artist and album (plays over
// time, first and last listen, ranks in the stored top lists, where it sits
// in playlists and Liked Songs).
//
// Data: GET /api/stats/listening/series, /api/stats/tops and
// /api/stats/{track,artist,album}/{id}. Every figure shown is the API's,
// unrounded in data-* attributes (the browser suite compares them with the
// emulator's truth); charts are charts.js SVGs with a numbers table.
// Control changes re-render in place and update the address with
// history.replaceState (no hashchange, so keyboard focus stays put).

import {api} from './api.js';
import {h, clear, fmtNumber, fmtDate, fmtDateTime, fmtDuration, announce, errorBox} from './dom.js';
import {lineChart, narrowAware, lineSize} from './charts.js';

const PERIODS = [['day', 'Last 24 hours'], ['week', 'Last 7 days'], ['month', 'Last 30 days'],
  ['year', 'Last 365 days'], ['all', 'All time'], ['custom', 'Custom range']];
const BUCKETS = [['', 'Automatic'], ['hour', 'Hour'], ['day', 'Day'], ['week', 'Week'], ['month', 'Month'], ['year', 'Year']];
const KINDS = [['tracks', 'Top tracks', 'track'], ['artists', 'Top artists', 'artist'], ['albums', 'Top albums', 'album']];
const TOP_LIMIT = 10;
const DAY_MS = 86400000;
// A drill-down's plays chart has one point per day up to this many days, then per week.
const DAILY_MAX_DAYS = 120;
const RANGE_NAMES = {short_term: 'Last 4 weeks', medium_term: 'Last 6 months', long_term: 'All time'};

// Minutes, as the time charts draw them (whole minutes; the table and the
// data-ms attributes keep the exact milliseconds).
export const minutes = (ms) => Math.round(ms / 60000);

function pct(share) {
  return `${(share * 100).toFixed(share >= 0.1 ? 0 : 1)}%`;
}

// "▲ 12% vs the previous period" / "▼ …" / "same as …", or '' without a previous period.
function change(now, before) {
  if (before === null || before === undefined) return '';
  if (before === 0) return now === 0 ? 'same as the previous period' : 'none in the previous period';
  const d = (now - before) / before;
  if (Math.abs(d) < 0.005) return 'same as the previous period';
  return `${d > 0 ? '▲' : '▼'} ${Math.abs(Math.round(d * 100))}% vs the previous period`;
}

// An x label: short when the caption's dates already say the rest.
function bucketLabel(iso, series) {
  const span = Date.parse(series.to) - Date.parse(series.from);
  if (series.bucket === 'hour') return span <= DAY_MS ? iso.slice(11, 16) : `${iso.slice(5, 10)} ${iso.slice(11, 16)}`;
  if (series.bucket === 'month') return iso.slice(0, 7);
  if (series.bucket === 'year') return iso.slice(0, 4);
  return span <= 200 * DAY_MS ? iso.slice(5, 10) : iso.slice(0, 10);
}

// The last day of a range whose `to` is exclusive.
const lastDay = (to) => new Date(Date.parse(to) - 1).toISOString().slice(0, 10);

function query(state, extra = {}) {
  const q = new URLSearchParams();
  if (state.period === 'custom') {
    q.set('from', state.from);
    // the "to" date is inclusive in the form: the range ends at the next midnight
    q.set('to', new Date(Date.parse(state.to) + DAY_MS).toISOString().slice(0, 10));
  } else {
    q.set('period', state.period);
  }
  if (state.bucket) q.set('bucket', state.bucket);
  for (const [k, v] of Object.entries(extra)) q.set(k, v);
  return q.toString();
}

function summary(series) {
  const prev = series.previous;
  const tile = (key, label, value, text, note) => h('div', {class: 'count', dataset: {count: key, value}},
    h('span', {class: 'value'}, text), h('span', {class: 'label'}, label),
    note ? h('span', {class: 'label change', dataset: {change: key}}, note) : null);
  return h('div', {class: 'counts', id: 'listening-summary'},
    tile('plays', 'Plays', series.plays, fmtNumber(series.plays), change(series.plays, prev && prev.plays)),
    tile('ms', 'Listening time', series.ms, fmtDuration(series.ms), change(series.ms, prev && prev.ms)),
    tile('tracks', 'Different tracks', series.distinct_tracks, fmtNumber(series.distinct_tracks)),
    tile('artists', 'Different artists', series.distinct_artists, fmtNumber(series.distinct_artists)));
}

// The period's buckets, with the previous period's beside them (matched by
// position: its first bucket under this period's first).
function seriesChart(series, previous, metric, narrow) {
  const value = metric === 'plays' ? (b) => b.plays : (b) => minutes(b.ms);
  const unit = metric === 'plays' ? 'Plays' : 'Minutes';
  const lines = [{name: `${unit} in this period`, points: series.buckets.map((b) => ({x: bucketLabel(b.start, series), y: value(b)}))}];
  if (previous) {
    lines.push({name: `${unit} in the previous period`,
      points: series.buckets.map((b, i) => ({x: bucketLabel(b.start, series), y: previous.buckets[i] ? value(previous.buckets[i]) : 0}))});
  }
  const caption = `${metric === 'plays' ? 'Plays' : 'Listening time (minutes)'} per ${series.bucket}, ${series.from.slice(0, 10)} to ${lastDay(series.to)} (UTC)`;
  const fig = lineChart('listening-series', caption, lines, {...lineSize(narrow), area: true, xLabel: series.bucket[0].toUpperCase() + series.bucket.slice(1),
    emptyText: 'No plays in this period.'});
  fig.dataset.metric = metric;
  return fig;
}

function itemLink(kind, item) {
  const label = item.name || '(unknown)';
  return item.id ? h('a', {href: `#/item/${kind}/${encodeURIComponent(item.id)}`}, label) : h('span', null, label);
}

function topsTable(kind, tops) {
  const [, , one] = KINDS.find(([k]) => k === kind);
  if (tops.items.length === 0) return h('p', {class: 'muted', dataset: {tops: 'empty'}}, 'No plays in this period.');
  const byTime = tops.by === 'time';
  return h('div', {class: 'table-wrap'}, h('table', {class: 'tops', dataset: {tops: kind, by: tops.by}},
    h('thead', null, h('tr', null, h('th', {scope: 'col', class: 'num'}, '#'), h('th', {scope: 'col'}, one[0].toUpperCase() + one.slice(1)),
      h('th', {scope: 'col', class: 'num'}, byTime ? 'Time' : 'Plays'), h('th', {scope: 'col', class: 'num'}, 'Share'))),
    h('tbody', null, tops.items.map((it) => {
      const sub = [it.artist && kind !== 'artists' ? it.artist : null,
        byTime ? `${fmtNumber(it.plays)} plays` : fmtDuration(it.ms)].filter(Boolean).join(' · ');
      return h('tr', {dataset: {rank: it.rank, name: it.name || '', id: it.id || '', plays: it.plays, ms: it.ms, share: it.share}},
        h('td', {class: 'num'}, it.rank),
        h('td', {class: 'name'}, itemLink(one, it), h('span', {class: 'sub muted'}, sub)),
        h('td', {class: 'num'}, byTime ? fmtDuration(it.ms) : fmtNumber(it.plays)),
        h('td', {class: 'num share'}, pct(it.share), h('span', {class: 'share-bar', 'aria-hidden': 'true'},
          h('span', {class: 'share-fill', dataset: {share: it.share}}))));
    }))));
}

// CSSOM widths (the CSP forbids style attributes).
function fillShares(root) {
  for (const el of root.querySelectorAll('.share-fill')) el.style.width = `${Math.min(100, Number(el.dataset.share) * 100)}%`;
}

function topsCard(kind, title, state, signal) {
  const by = h('select', {id: `tops-by-${kind}`}, h('option', {value: 'plays'}, 'Plays'), h('option', {value: 'time'}, 'Listening time'));
  by.value = state.by[kind] || 'plays';
  // Not a live region (it would read the whole table out); a change the
  // user asks for is announced in one sentence instead.
  const body = h('div', {id: `tops-${kind}`});
  const load = async () => {
    state.by[kind] = by.value;
    body.dataset.ready = 'false';
    try {
      const tops = await api(`/api/stats/tops?${query(state, {kind, by: by.value, limit: TOP_LIMIT})}`, {signal});
      clear(body, topsTable(kind, tops));
      fillShares(body);
    } catch (err) {
      if (err.name === 'AbortError') throw err;
      clear(body, errorBox(err));
    }
    body.dataset.ready = 'true';
  };
  by.addEventListener('change', () => load().then(() => announce(`${title} by ${by.value === 'time' ? 'listening time' : 'plays'}.`)).catch(() => {}));
  const card = h('section', {class: 'card', 'aria-labelledby': `tops-h-${kind}`, id: `card-tops-${kind}`},
    h('h2', {id: `tops-h-${kind}`}, title),
    h('div', {class: 'field'}, h('label', {for: `tops-by-${kind}`}, 'Rank by'), by), body);
  return {card, load};
}

function controls(state, onChange) {
  const period = h('select', {id: 'period'}, PERIODS.map(([v, l]) => h('option', {value: v}, l)));
  period.value = state.period;
  const bucket = h('select', {id: 'bucket'}, BUCKETS.map(([v, l]) => h('option', {value: v}, l)));
  bucket.value = state.bucket;
  const metric = h('select', {id: 'metric'}, h('option', {value: 'time'}, 'Listening time'), h('option', {value: 'plays'}, 'Plays'));
  metric.value = state.metric;
  const from = h('input', {type: 'date', id: 'from', value: state.from, required: true});
  const to = h('input', {type: 'date', id: 'to', value: state.to, required: true});
  const apply = h('button', {type: 'submit', class: 'primary', id: 'apply-range'}, 'Show');
  const custom = h('div', {class: 'row', id: 'custom-range'},
    h('div', {class: 'field'}, h('label', {for: 'from'}, 'From'), from),
    h('div', {class: 'field'}, h('label', {for: 'to'}, 'To (inclusive)'), to), apply);
  custom.hidden = state.period !== 'custom';
  const form = h('form', {class: 'row controls', id: 'listening-controls', 'aria-label': 'Period'},
    h('div', {class: 'field'}, h('label', {for: 'period'}, 'Period'), period),
    h('div', {class: 'field'}, h('label', {for: 'bucket'}, 'Points per'), bucket),
    h('div', {class: 'field'}, h('label', {for: 'metric'}, 'Chart'), metric), custom);
  period.addEventListener('change', () => {
    custom.hidden = period.value !== 'custom';
    if (period.value !== 'custom') onChange({period: period.value});
  });
  bucket.addEventListener('change', () => onChange({bucket: bucket.value}));
  metric.addEventListener('change', () => onChange({metric: metric.value}, true));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (from.value && to.value) onChange({period: 'custom', from: from.value, to: to.value});
  });
  return form;
}

export async function listeningPage(ctx) {
  const today = new Date().toISOString().slice(0, 10);
  const [argPeriod, argFrom, argTo] = ctx.args;
  const state = {
    period: PERIODS.some(([v]) => v === argPeriod) ? argPeriod : 'month',
    from: argFrom || new Date(Date.now() - 29 * DAY_MS).toISOString().slice(0, 10),
    to: argTo || today, bucket: '', metric: 'time', by: {},
  };
  if (state.period === 'custom' && !(argFrom && argTo)) state.period = 'month';
  const summarySlot = h('div', {id: 'listening-summary-slot'});
  const chartSlot = h('section', {class: 'card wide', id: 'card-listening-series', 'aria-label': 'Listening over time'});
  const tops = KINDS.map(([kind, title]) => topsCard(kind, title, state, ctx.signal));
  let series = null, previous = null;

  const drawChart = () => clear(chartSlot, narrowAware((narrow) => seriesChart(series, previous, state.metric, narrow), ctx.signal));
  const load = async () => {
    series = await api(`/api/stats/listening/series?${query(state)}`, {signal: ctx.signal});
    previous = series.previous
      ? await api(`/api/stats/listening/series?${new URLSearchParams({from: series.previous.from, to: series.previous.to, bucket: series.bucket})}`, {signal: ctx.signal})
      : null;
    clear(summarySlot, summary(series));
    drawChart();
    await Promise.all(tops.map((t) => t.load()));
  };
  const onChange = async (patch, chartOnly) => {
    Object.assign(state, patch);
    history.replaceState(null, '', state.period === 'custom' ? `#/listening/custom/${state.from}/${state.to}` : `#/listening/${state.period}`);
    if (chartOnly) { if (series) drawChart(); return; }
    ctx.root.dataset.ready = 'false';
    try {
      await load();
      announce(`Showing ${fmtNumber(series.plays)} plays from ${series.from.slice(0, 10)} to ${lastDay(series.to)}.`);
    } catch (err) {
      if (err.name === 'AbortError') return;
      clear(chartSlot, errorBox(err));
    }
    ctx.root.dataset.ready = 'true';
  };
  ctx.root.append(h('h1', null, 'Listening'),
    h('p', {class: 'muted'}, 'From the plays keeptrack polls and the streaming history you imported. Days are UTC.'),
    controls(state, onChange), summarySlot, h('div', {class: 'grid'}, chartSlot, tops.map((t) => t.card)));
  await load();
}

// ---- drill-down: #/item/{track|artist|album}/{id}

// Plays per day from first to last play (zeros filled), or per week
// (Monday) when that is more than DAILY_MAX_DAYS days.
function playsPoints(perDay) {
  if (perDay.length === 0) return {unit: 'day', points: []};
  const day0 = Date.parse(perDay[0].day) / DAY_MS, day1 = Date.parse(perDay[perDay.length - 1].day) / DAY_MS;
  const weekly = day1 - day0 + 1 > DAILY_MAX_DAYS;
  // 1970-01-05 was a Monday: week starts are 4 + 7k days after the epoch.
  const start = (d) => (weekly ? d - ((((d - 4) % 7) + 7) % 7) : d);
  const counts = new Map();
  for (const p of perDay) {
    const k = start(Date.parse(p.day) / DAY_MS);
    counts.set(k, (counts.get(k) || 0) + p.plays);
  }
  const points = [];
  // labels are MM-DD within 200 days (the caption gives the years)
  const label = (d) => new Date(d * DAY_MS).toISOString().slice(day1 - day0 <= 200 ? 5 : 0, 10);
  for (let d = start(day0); d <= day1; d += weekly ? 7 : 1) points.push({x: label(d), y: counts.get(d) || 0});
  return {unit: weekly ? 'week' : 'day', points};
}

// One row per snapshot day (newest first: the current rank is what a
// reader looks for), a column per top list; "–" where it was not listed.
function rankTable(history) {
  if (history.length === 0) return h('p', {class: 'muted', id: 'rank-history', dataset: {empty: 'true'}}, 'Not in your stored top lists.');
  const byDay = new Map();
  for (const r of history) {
    if (!byDay.has(r.day)) byDay.set(r.day, {});
    byDay.get(r.day)[r.range] = r.rank;
  }
  const ranges = Object.keys(RANGE_NAMES);
  return h('div', {class: 'table-wrap'}, h('table', {id: 'rank-history'},
    h('thead', null, h('tr', null, h('th', {scope: 'col'}, 'Day'), ranges.map((k) => h('th', {scope: 'col', class: 'num'}, RANGE_NAMES[k])))),
    h('tbody', null, [...byDay.entries()].reverse().map(([day, ranks]) => h('tr', {dataset: {day}},
      h('td', null, day), ranges.map((k) => h('td', {class: 'num', dataset: {range: k, rank: ranks[k] || ''}}, ranks[k] ? `#${ranks[k]}` : '–')))))));
}

function playlistsTable(lists) {
  if (lists.length === 0) return h('p', {class: 'muted', id: 'item-playlists', dataset: {empty: 'true'}}, 'In none of your playlists.');
  return h('div', {class: 'table-wrap'}, h('table', {id: 'item-playlists'},
    h('thead', null, h('tr', null, h('th', {scope: 'col'}, 'Playlist'), h('th', {scope: 'col'}, 'Positions'))),
    h('tbody', null, lists.map((pl) => h('tr', {dataset: {playlist: pl.spotify_id, positions: pl.positions.map((x) => x.position).join(',')}},
      h('td', null, h('a', {href: `#/playlist/${encodeURIComponent(pl.spotify_id)}`}, pl.name || '(no name)')),
      h('td', null, pl.positions.map((x) => `#${x.position + 1}${pl.positions.length > 1 && x.name ? ` ${x.name}` : ''}`).join(', ')))))));
}

function likedTable(liked) {
  if (liked.total === 0) return h('p', {class: 'muted', id: 'item-liked', dataset: {empty: 'true', total: 0}}, 'Not in Liked Songs.');
  return h('div', {class: 'table-wrap'}, h('table', {id: 'item-liked', dataset: {total: liked.total}},
    h('caption', {class: 'muted'}, `${fmtNumber(liked.total)} in Liked Songs (position 1 = liked most recently)`),
    h('thead', null, h('tr', null, h('th', {scope: 'col', class: 'num'}, 'Position'), h('th', {scope: 'col'}, 'Track'), h('th', {scope: 'col'}, 'Added'))),
    h('tbody', null, liked.items.map((x) => h('tr', {dataset: {position: x.position}},
      h('td', {class: 'num'}, `#${x.position + 1}`), h('td', null, x.name || x.uri), h('td', null, fmtDate(x.added_at)))))));
}

export async function itemPage(ctx) {
  const [kind, id] = ctx.args;
  if (!['track', 'artist', 'album'].includes(kind) || !id) {
    ctx.root.append(h('h1', null, 'Not found'), h('p', null, h('a', {href: '#/listening'}, 'Back to Listening')));
    return;
  }
  const it = await api(`/api/stats/${kind}/${encodeURIComponent(id)}`, {signal: ctx.signal});
  document.title = `${it.name || id} - keeptrack`;
  const by = [];
  if (it.artist) by.push('by ', itemLink('artist', it.artist));
  if (it.album) by.push(' on ', itemLink('album', it.album));
  const tile = (key, label, value, text, cls = 'value') => h('div', {class: 'count', dataset: {count: key, value}},
    h('span', {class: cls}, text), h('span', {class: 'label'}, label));
  const {unit, points} = playsPoints(it.per_day);
  // ParentNode.append would write a null as the text "null": leave them out.
  ctx.root.append(...[
    h('p', {class: 'muted crumbs'}, h('a', {href: '#/listening'}, 'Listening'), ` › ${kind[0].toUpperCase()}${kind.slice(1)}`),
    h('h1', {id: 'item-name', dataset: {kind, id}}, it.name || id),
    by.length ? h('p', {class: 'muted', id: 'item-by'}, by) : null,
    h('div', {class: 'counts', id: 'item-summary'},
      tile('plays', 'Plays', it.plays, fmtNumber(it.plays)),
      tile('ms', 'Listening time', it.ms, fmtDuration(it.ms)),
      tile('first', 'First listen', it.first_play || '', fmtDateTime(it.first_play), 'value date'),
      tile('last', 'Last listen', it.last_play || '', fmtDateTime(it.last_play), 'value date')),
    h('div', {class: 'grid'},
      h('section', {class: 'card wide', id: 'card-item-plays', 'aria-label': 'Plays over time'},
        narrowAware((narrow) => lineChart('item-plays', it.per_day.length ? `Plays per ${unit}, ${it.per_day[0].day} to ${it.per_day[it.per_day.length - 1].day} (UTC)` : 'Plays', points.length ? [{name: 'Plays', points}] : [],
          {...lineSize(narrow), area: true, xLabel: unit === 'week' ? 'Week of' : 'Day', emptyText: 'Never played (in the plays keeptrack holds).'}), ctx.signal)),
      h('section', {class: 'card', 'aria-labelledby': 'rank-h'}, h('h2', {id: 'rank-h'}, 'Rank in your top lists'), rankTable(it.rank_history)),
      h('section', {class: 'card', 'aria-labelledby': 'pl-h'}, h('h2', {id: 'pl-h'}, 'In your playlists'), playlistsTable(it.playlists)),
      h('section', {class: 'card', 'aria-labelledby': 'liked-h'}, h('h2', {id: 'liked-h'}, 'In Liked Songs'), likedTable(it.liked)))].filter(Boolean));
}
