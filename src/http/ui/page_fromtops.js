// page_fromtops.js - playlists from top tracks (issue 18, item 2): the top
// N tracks of one of Spotify's ranges, or of your own listening history
// over a period by plays or by time, written into a private playlist.
// Each one is saved: making it again (or "Run again") replaces the same
// playlist's tracks, and a weekly or monthly refresh lets the scheduler
// do that on its own. The saved ones are listed with their playlist.

import {api, runJob} from './api.js';
import {h, clear, fmtDateTime, announce, errorBox} from './dom.js';

const RANGES = [['short_term', 'Last 4 weeks'], ['medium_term', 'Last 6 months'], ['long_term', 'All time']];
const PERIODS = [['week', 'Last 7 days'], ['month', 'Last 30 days'], ['year', 'Last 365 days'], ['all', 'All time'], ['custom', 'From … to …']];
const REFRESH = [['none', 'Never'], ['weekly', 'Every week'], ['monthly', 'Every month']];
const playlistUrl = (id) => `https://open.spotify.com/playlist/${encodeURIComponent(id)}`;
const options = (pairs, value) => pairs.map(([v, l]) => h('option', {value: v, selected: v === value ? true : null}, l));
const field = (id, label, control) => h('div', {class: 'field'}, h('label', {for: id}, label), control);

// What a saved definition ranks, in words.
function describe(d) {
  if (d.source === 'spotify') return `Spotify's top tracks, ${(RANGES.find(([v]) => v === d.range) || [0, d.range])[1].toLowerCase()}`;
  const span = d.period === 'custom' ? `${(d.from || '').slice(0, 10)} to ${d.to ? new Date(Date.parse(d.to) - 1).toISOString().slice(0, 10) : 'today'}`
    : (PERIODS.find(([v]) => v === d.period) || [0, d.period])[1].toLowerCase();
  return `Your listening by ${d.by}, ${span}`;
}

// The request that makes d again (the same ranking, so the same playlist).
function bodyOf(d) {
  const b = {source: d.source, limit: d.limit, name: d.name, refresh: d.refresh};
  if (d.source === 'spotify') b.range = d.range;
  else Object.assign(b, {by: d.by, period: d.period}, d.from ? {from: d.from} : {}, d.to ? {to: d.to} : {});
  return b;
}

function savedTable(defs, onRun, onDelete) {
  if (defs.length === 0) return h('p', {class: 'muted', id: 'fromtops-none'}, 'None yet: make one above.');
  return h('div', {class: 'table-wrap'}, h('table', {id: 'fromtops-table'},
    h('caption', {class: 'visually-hidden'}, 'Saved playlists from top tracks'),
    h('thead', null, h('tr', null, ['Playlist', 'Tracks from', 'Tracks', 'Refresh', 'Last made', 'Actions']
      .map((c) => h('th', {scope: 'col', class: c === 'Tracks' ? 'num' : null}, c)))),
    h('tbody', null, defs.map((d) => {
      const run = h('button', {type: 'button', class: 'small', 'aria-label': `Make ${d.name} again`}, 'Run again');
      const rm = h('button', {type: 'button', class: 'small danger', 'aria-label': `Forget ${d.name}`}, 'Forget');
      run.addEventListener('click', () => onRun(d));
      rm.addEventListener('click', () => onDelete(d));
      return h('tr', {dataset: {id: d.id, playlistId: d.playlist_id || ''}},
        h('td', {class: 'name'}, d.playlist_id ? h('a', {href: playlistUrl(d.playlist_id), rel: 'noopener', target: '_blank'}, d.name) : d.name),
        h('td', null, describe(d)),
        h('td', {class: 'num'}, d.limit),
        h('td', null, (REFRESH.find(([v]) => v === d.refresh) || [0, d.refresh])[1]),
        h('td', null, d.last_run_at ? fmtDateTime(d.last_run_at) : 'not yet'),
        h('td', {class: 'actions'}, run, rm));
    }))));
}

export async function fromtopsPage(ctx) {
  const source = h('select', {id: 'ft-source'}, h('option', {value: 'spotify'}, 'Spotify\'s top tracks'),
    h('option', {value: 'history'}, 'My listening history'));
  const range = h('select', {id: 'ft-range'}, options(RANGES, 'short_term'));
  const period = h('select', {id: 'ft-period'}, options(PERIODS, 'month'));
  const by = h('select', {id: 'ft-by'}, h('option', {value: 'plays'}, 'Plays'), h('option', {value: 'time'}, 'Listening time'));
  const from = h('input', {type: 'date', id: 'ft-from'});
  const to = h('input', {type: 'date', id: 'ft-to'});
  const limit = h('input', {type: 'number', id: 'ft-limit', min: '1', max: '100', value: '50', inputmode: 'numeric'});
  const name = h('input', {type: 'text', id: 'ft-name', maxlength: '200', placeholder: 'Named from the choice'});
  const refresh = h('select', {id: 'ft-refresh'}, options(REFRESH, 'none'));
  const rangeF = field('ft-range', 'Range', range);
  const historyF = [field('ft-period', 'Period', period), field('ft-by', 'Ranked by', by)];
  const customF = [field('ft-from', 'From', from), field('ft-to', 'To (included)', to)];
  const sync = () => {
    const hist = source.value === 'history';
    rangeF.hidden = hist;
    for (const f of historyF) f.hidden = !hist;
    for (const f of customF) f.hidden = !hist || period.value !== 'custom';
  };
  source.addEventListener('change', sync);
  period.addEventListener('change', sync);
  sync();
  const go = h('button', {type: 'submit', class: 'primary', id: 'ft-go'}, 'Make the playlist');
  const slot = h('div', {id: 'ft-progress'});
  const result = h('div', {id: 'ft-result', 'aria-live': 'polite'});
  const savedSlot = h('div', {id: 'fromtops-saved'});
  const status = h('div', {id: 'fromtops-status'});

  const reload = async () => {
    const data = await api('/api/playlists/from-tops', {signal: ctx.signal});
    clear(savedSlot, savedTable(data.definitions, runDef, forget));
    savedSlot.dataset.count = data.definitions.length;
  };
  // Starts the job for body and follows it; the playlist's link when done.
  async function make(body) {
    go.disabled = true;
    clear(result);
    clear(status);
    const end = await runJob(slot, 'Playlist progress', () => api('/api/playlists/from-tops', {method: 'POST', body, signal: ctx.signal}), ctx.signal);
    go.disabled = false;
    if (end && end.state === 'done') {
      const m = /playlist (\S+),/.exec(end.message || '');
      if (m) {
        clear(result, h('p', {class: 'banner ok', dataset: {playlistId: m[1]}}, /\(replaced\)/.test(end.message) ? 'Replaced: ' : 'Done: ',
          h('a', {href: playlistUrl(m[1]), rel: 'noopener', target: '_blank', id: 'ft-link'}, 'open the playlist in Spotify')));
      }
      announce('The playlist is ready.');
    } else if (end && end.state === 'failed') {
      clear(result, h('p', {class: 'banner error', role: 'alert'}, end.error || 'The playlist could not be made.'));
    }
    try { await reload(); } catch (err) { if (err.name !== 'AbortError') clear(status, errorBox(err)); }
  }
  function runDef(d) { return make(bodyOf(d)); }
  async function forget(d) {
    clear(status);
    try {
      await api(`/api/playlists/from-tops/${d.id}`, {method: 'DELETE', signal: ctx.signal});
      announce(`${d.name} is forgotten; its playlist stays in Spotify.`);
      await reload();
    } catch (err) { if (err.name !== 'AbortError') clear(status, errorBox(err)); }
  }

  // novalidate: the server's 400 names the field, for every way in alike.
  const form = h('form', {id: 'ft-form', novalidate: ''},
    h('div', {class: 'row controls'}, field('ft-source', 'Tracks from', source), rangeF, ...historyF, ...customF),
    h('div', {class: 'row controls'}, field('ft-limit', 'How many (1–100)', limit), field('ft-refresh', 'Make it again', refresh)),
    h('div', {class: 'field'}, h('label', {for: 'ft-name'}, 'Playlist name (optional)'), name),
    h('div', {class: 'row'}, go), slot, result);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const body = {source: source.value, limit: Number(limit.value), refresh: refresh.value};
    if (name.value.trim()) body.name = name.value.trim();
    if (source.value === 'spotify') {
      body.range = range.value;
    } else {
      Object.assign(body, {by: by.value, period: period.value});
      // Dates are UTC days; "to" is the end of its day.
      if (period.value === 'custom') {
        if (from.value) body.from = `${from.value}T00:00:00Z`;
        if (to.value) body.to = new Date(Date.parse(`${to.value}T00:00:00Z`) + 86400000).toISOString();
      }
    }
    make(body);
  });
  ctx.root.append(h('h1', null, 'Playlists from your top tracks'),
    h('section', {class: 'card', 'aria-labelledby': 'ft-h'}, h('h2', {id: 'ft-h'}, 'Make one'),
      h('p', {class: 'muted'}, 'keeptrack writes the top tracks into a private playlist. Making the same one again replaces that playlist\'s tracks.'), form),
    status,
    h('section', {class: 'card', 'aria-labelledby': 'ft-saved-h'}, h('h2', {id: 'ft-saved-h'}, 'Saved'), savedSlot));
  await reload();
}
