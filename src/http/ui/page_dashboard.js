// page_dashboard.js - the dashboard: library counts, "sync now" with live
// progress, and the charts of GET /api/stats/aggregate (trackers over time,
// top artists, genres, release decades, listening by hour x weekday, top
// track movement). Counts come from the library endpoints' totals, so they
// show even where the statistics API is absent.

import {api, runJob, isMissingRoute} from './api.js';
import {h, clear, fmtNumber, fmtDateTime, announce, errorBox} from './dom.js';
import {lineChart, barChart, heatmap, narrowAware, lineSize} from './charts.js';

const COUNTS = [
  ['liked', 'Liked Songs', '/api/library/tracks?limit=1'],
  ['playlists', 'Playlists', '/api/playlists?limit=1'],
  ['albums', 'Saved albums', '/api/library/albums?limit=1'],
  ['following', 'Followed artists', '/api/following?limit=1'],
  ['plays', 'Plays recorded', '/api/plays?limit=1'],
];
const MOVEMENT_ROWS = 10;
const RANGES = [['short_term', 'Last 4 weeks'], ['medium_term', 'Last 6 months'], ['long_term', 'All time']];
const TRACKER_SERIES = [['liked', 'Liked Songs'], ['playlists', 'Playlists'], ['followed', 'Followed artists'], ['plays', 'Plays']];

async function counts(signal) {
  const totals = await Promise.all(COUNTS.map(([, , path]) => api(path, {signal}).then((r) => r.total)));
  return h('div', {class: 'counts', id: 'counts'}, COUNTS.map(([key, label], i) =>
    h('div', {class: 'count', dataset: {count: key, value: totals[i]}},
      h('span', {class: 'value'}, fmtNumber(totals[i])), h('span', {class: 'label'}, label))));
}

// "Sync now" and the latest run; onDone re-renders the page with new data.
// The latest-run line is read again when a sync ends (done or failed), so
// it never says "Not synced yet" under a finished progress bar.
export function syncPanel(ctx, onDone) {
  const status = h('p', {class: 'muted', id: 'last-sync'}, 'Looking for the last sync…');
  const button = h('button', {type: 'button', class: 'primary', id: 'sync-now'}, 'Sync now');
  const slot = h('div', {id: 'sync-progress'});
  const panel = h('section', {class: 'card wide', 'aria-labelledby': 'sync-h'},
    h('h2', {id: 'sync-h'}, 'Sync with Spotify'), status, h('div', {class: 'row'}, button), slot);
  const showLast = () => api('/api/sync/runs?limit=1', {signal: ctx.signal}).then((runs) => {
    const run = runs.items[0];
    status.textContent = run
      ? `Last sync ${fmtDateTime(run.finished_at || run.started_at)}: ${run.status}, ${fmtNumber(run.added)} added, ${fmtNumber(run.removed)} removed.`
      : 'Not synced yet: press "Sync now" to copy your library.';
  }).catch((err) => { if (err.name !== 'AbortError') status.textContent = ''; });
  showLast();
  button.addEventListener('click', async () => {
    button.disabled = true;
    const end = await runJob(slot, 'Sync progress', () => api('/api/sync', {method: 'POST', body: {}, signal: ctx.signal}), ctx.signal);
    button.disabled = false;
    if (end) announce(end.state === 'done' ? 'Sync finished.' : `Sync failed: ${end.error || ''}`);
    if (end) await showLast();
    if (end && end.state === 'done' && onDone) onDone();
  });
  return panel;
}

function decadeLabel(d) {
  return typeof d === 'number' ? `${d}s` : String(d);
}

function trackerChart(trackers, narrow) {
  const points = (trackers && trackers.points) || [];
  const series = TRACKER_SERIES.filter(([key]) => points.some((p) => typeof p[key] === 'number'))
    .map(([key, name]) => ({name, points: points.map((p) => ({x: p.day, y: p[key] || 0}))}));
  return lineChart('tracker', 'Your library over time', series,
    {emptyText: 'No tracker points yet: one is recorded each day after a sync.', ...lineSize(narrow)});
}

// Liked Songs at the end of each month since the first song was liked,
// rebuilt from when each was liked (GET /api/stats/library/growth), so the
// library has a history from the first sync on, before any tracker point.
function growthChart(growth, narrow) {
  const pts = (growth && growth.points) || [];
  const months = [];
  if (pts.length) {
    let [y, m] = pts[0].day.split('-').map(Number);
    const end = new Date().toISOString().slice(0, 7);
    let i = 0, liked = growth.undated;
    for (;;) {
      const key = `${y}-${String(m).padStart(2, '0')}`;
      while (i < pts.length && pts[i].day.slice(0, 7) <= key) liked = pts[i++].liked;
      months.push({x: key, y: liked});
      if (key >= end) break;
      [y, m] = m === 12 ? [y + 1, 1] : [y, m + 1];
    }
  }
  return lineChart('library-growth', 'Liked Songs over time (by the month you liked them)',
    months.length ? [{name: 'Liked Songs', points: months}] : [],
    {area: true, xLabel: 'Month', labels: 5, emptyText: 'No Liked Songs yet: they appear here after a sync.', ...lineSize(narrow)});
}

// The API's reason is written for API users (it names the refresh route);
// the card says the same in a listener's words.
function genresChart(genres) {
  if (!genres || genres.available === false) {
    const why = !genres ? '' : genres.artists_checked === 0
      ? ' keeptrack looks up your artists\' genres after a sync; they appear here then.'
      : ' Spotify no longer gives apps like keeptrack the genres of these artists.';
    return h('figure', {class: 'chart', dataset: {chart: 'genres', empty: 'true'}},
      h('figcaption', null, 'Genres'),
      h('p', {class: 'muted'}, `Not available.${why}`));
  }
  return barChart('genres', 'Genres', (genres.items || []).slice(0, 10).map((g) => ({label: g.genre, value: g.tracks})),
    {emptyText: 'Spotify returned no genres for your artists.'});
}

function movementTable(mv, rangeLabel) {
  if (!mv) return h('p', {class: 'muted', dataset: {movement: 'none'}}, `No top tracks recorded for ${rangeLabel.toLowerCase()} yet.`);
  const rows = [];
  const name = (t) => (t ? `${t.name || ''}${t.artist ? ` — ${t.artist}` : ''}` : '');
  for (const e of mv.new || []) rows.push(['new', e.rank, null, name(e.track)]);
  for (const e of mv.climbers || []) rows.push(['up', e.rank, e.previous_rank, name(e.track)]);
  for (const e of mv.fallers || []) rows.push(['down', e.rank, e.previous_rank, name(e.track)]);
  for (const e of mv.dropped || []) rows.push(['dropped', null, e.previous_rank, name(e.track)]);
  if (rows.length === 0) return h('p', {class: 'muted', dataset: {movement: 'none'}}, 'No changes between the last two snapshots.');
  rows.sort((a, b) => (a[1] ?? 999) - (b[1] ?? 999));
  const word = {new: 'New', up: '▲ up', down: '▼ down', dropped: 'Dropped out'};
  return h('div', {class: 'table-wrap'}, h('table', {dataset: {movement: 'table'}},
    h('thead', null, h('tr', null, h('th', {scope: 'col'}, 'Move'), h('th', {scope: 'col', class: 'num'}, 'Rank'),
      h('th', {scope: 'col', class: 'num'}, 'Before'), h('th', {scope: 'col'}, 'Track'))),
    h('tbody', null, rows.slice(0, MOVEMENT_ROWS).map(([kind, rank, prev, t]) => h('tr', {dataset: {move: kind}},
      h('td', {class: kind === 'up' ? 'movement-up' : kind === 'down' || kind === 'dropped' ? 'movement-down' : null}, word[kind]),
      h('td', {class: 'num'}, rank ?? '–'), h('td', {class: 'num'}, prev ?? '–'), h('td', null, t))))));
}

function movementCard(top) {
  const select = h('select', {id: 'movement-range'}, RANGES.map(([v, l]) => h('option', {value: v}, l)));
  select.value = 'short_term';
  const body = h('div', {id: 'movement-body'});
  const show = () => {
    const label = RANGES.find(([v]) => v === select.value)[1];
    clear(body, movementTable(top ? top[select.value] : null, label));
  };
  select.addEventListener('change', show);
  show();
  return h('section', {class: 'card', 'aria-labelledby': 'movement-h'}, h('h2', {id: 'movement-h'}, 'Top-track movement'),
    h('div', {class: 'field'}, h('label', {for: 'movement-range'}, 'Time range'), select), body);
}

function heatCells(wh) {
  const cells = [];
  const plays = (wh && wh.plays) || [];
  plays.forEach((row, d) => (row || []).forEach((v, hr) => { if (v) cells.push({weekday: d, hour: hr, value: v}); }));
  return cells;
}

async function charts(ctx) {
  let agg;
  try {
    agg = await api('/api/stats/aggregate', {signal: ctx.signal});
  } catch (err) {
    if (isMissingRoute(err)) {
      return h('p', {class: 'muted', id: 'stats-missing'}, 'Statistics are not available on this keeptrack server yet.');
    }
    throw err;
  }
  const lib = agg.library || {};
  // Without it the rest of the dashboard still shows.
  const growth = await api('/api/stats/library/growth', {signal: ctx.signal}).catch((err) => {
    if (err.name === 'AbortError') throw err;
    return null;
  });
  const listening = agg.listening || {};
  const card = (id, el, wide) => h('section', {class: wide ? 'card wide' : 'card', id}, el);
  return h('div', {class: 'grid', id: 'charts'},
    // Tracker points are recorded once a day (the scheduler's job); until
    // the first, the backfilled Liked Songs chart below is the history.
    agg.trackers && agg.trackers.points && agg.trackers.points.length ? card('card-tracker', narrowAware((narrow) => trackerChart(agg.trackers, narrow), ctx.signal), true) : null,
    card('card-growth', narrowAware((narrow) => growthChart(growth, narrow), ctx.signal), true),
    card('card-artists', barChart('top-artists', 'Top artists in Liked Songs',
      (lib.top_artists || []).map((a) => ({label: a.name, value: a.tracks})))),
    card('card-genres', genresChart(lib.genres)),
    card('card-decades', barChart('decades', 'Release decades',
      (lib.decades || []).map((d) => ({label: decadeLabel(d.decade), value: d.tracks})))),
    card('card-heatmap', narrowAware((vertical) => heatmap('heatmap', `Listening by hour and weekday (${listening.timezone || 'UTC'}, last 30 days)`,
      heatCells(listening.weekday_hour), {vertical}), ctx.signal), true),
    movementCard(agg.top_movement));
}

export async function dashboardPage(ctx) {
  const countsSlot = h('div', {id: 'counts-slot'});
  const chartsSlot = h('div', {id: 'charts-slot'});
  // Fills the counts and the charts; the charts fail on their own, so
  // counts and "Sync now" stay usable when the statistics cannot be read.
  const estimate = syncEstimate(ctx);
  const refresh = async () => {
    estimate.show();
    const chartsEl = charts(ctx).catch((err) => {
      if (err.name === 'AbortError') throw err;
      return h('div', {id: 'charts', dataset: {error: 'true'}}, errorBox(err));
    });
    // The charts load while the counts do. When the counts fail (leaving
    // the page aborts both), the charts' rejection is still awaited by no
    // one: mark it handled so it is not an unhandled AbortError.
    chartsEl.catch(() => {});
    clear(countsSlot, await counts(ctx.signal));
    clear(chartsSlot, await chartsEl);
    ctx.root.dataset.generation = String(Number(ctx.root.dataset.generation || 0) + 1);
  };
  // After a sync the numbers change; the sync panel (and its finished
  // progress bar) stays as it is.
  const afterSync = () => refresh().catch((err) => { if (err.name !== 'AbortError') clear(chartsSlot, errorBox(err)); });
  ctx.root.append(h('h1', null, 'Dashboard'), countsSlot, h('div', {class: 'grid'}, estimate.into(syncPanel(ctx, afterSync))),
    h('h2', {class: 'visually-hidden'}, 'Charts'), chartsSlot);
  await refresh();
}

// What a sync will cost the user's Spotify quota (GET /api/sync/estimate,
// from the stored copy; nothing is sent), under the last-sync line of the
// sync card, read again whenever the page's numbers are.
function syncEstimate(ctx) {
  const line = h('p', {class: 'muted', id: 'sync-estimate'});
  const show = () => api('/api/sync/estimate', {signal: ctx.signal}).then((e) => {
    line.dataset.requests = String(e.requests);
    line.textContent = e.synced
      ? `A sync now sends about ${fmtNumber(e.requests)} requests to Spotify (${fmtNumber(e.if_changed)} if everything changed).`
      : `A first sync sends at least ${fmtNumber(e.requests)} requests to Spotify.`;
  }).catch((err) => { if (err.name !== 'AbortError') line.textContent = ''; });
  const into = (panel) => {
    panel.querySelector('#last-sync').after(line);
    return panel;
  };
  return {show, into};
}
