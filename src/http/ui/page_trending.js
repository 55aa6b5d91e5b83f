// page_trending.js - trending tracks: a list the user curates, as a
// top-track tracker keeps one. Pick tracks from Liked Songs, the top lists
// or the top-track movement, or paste a Spotify link; reorder and remove;
// each row shows the track's details and, where Spotify allows this app
// audio features, energy, key, valence, tempo and a mood (otherwise the
// reason); CSV export and import; write the list into a playlist.

import {api, runJob} from './api.js';
import {h, clear, fmtNumber, artistNames, announce, errorBox} from './dom.js';

const RANGES = [['short_term', 'Last 4 weeks'], ['medium_term', 'Last 6 months'], ['long_term', 'All time']];
const PICK_ROWS = 20;
const spotifyUrl = (kind, id) => `https://open.spotify.com/${kind}/${encodeURIComponent(id)}`;

const fmt = (v, digits) => (typeof v === 'number' ? v.toFixed(digits) : '');

function listTable(list, onMove, onRemove) {
  if (list.tracks.length === 0) {
    return h('p', {class: 'muted', id: 'trending-empty'}, 'Your list is empty. Pick tracks above, or paste a Spotify link.');
  }
  const n = list.tracks.length;
  return h('div', {class: 'table-wrap'}, h('table', {id: 'trending-table'},
    h('caption', {class: 'visually-hidden'}, 'Trending tracks'),
    h('thead', null, h('tr', null, ['#', 'Song', 'Artist', 'Album', 'Year', 'Genres', 'Energy', 'Key', 'Valence', 'Tempo', 'Mood', 'Move']
      .map((c) => h('th', {scope: 'col', class: ['#', 'Year', 'Energy', 'Valence', 'Tempo'].includes(c) ? 'num' : null}, c)))),
    h('tbody', null, list.tracks.map((t, i) => {
      const f = t.audio_features;
      const up = h('button', {type: 'button', class: 'small', 'aria-label': `Move ${t.name} up`, disabled: i === 0 ? true : null}, '↑');
      const down = h('button', {type: 'button', class: 'small', 'aria-label': `Move ${t.name} down`, disabled: i === n - 1 ? true : null}, '↓');
      const rm = h('button', {type: 'button', class: 'small danger', 'aria-label': `Remove ${t.name}`}, 'Remove');
      up.addEventListener('click', () => onMove(i, i - 1));
      down.addEventListener('click', () => onMove(i, i + 1));
      rm.addEventListener('click', () => onRemove(t));
      return h('tr', {dataset: {uri: t.uri}},
        h('td', {class: 'num'}, i + 1),
        h('td', {class: 'name'}, h('a', {href: spotifyUrl('track', t.id), rel: 'noopener', target: '_blank'}, t.name || t.uri),
          h('span', {class: 'sub muted uri'}, t.uri)),
        h('td', {class: 'name'}, t.artist || '', t.artist_uri ? h('span', {class: 'sub muted uri'}, t.artist_uri) : null),
        h('td', null, t.album || ''),
        h('td', {class: 'num'}, t.release_year ?? ''),
        h('td', null, t.genres && t.genres.length ? t.genres.join(', ') : ''),
        h('td', {class: 'num'}, f ? fmt(f.energy, 2) : ''),
        h('td', null, f ? f.key_name || '' : ''),
        h('td', {class: 'num'}, f ? fmt(f.valence, 2) : ''),
        h('td', {class: 'num'}, f ? fmt(f.tempo, 0) : ''),
        h('td', {dataset: {mood: f ? f.mood : ''}}, f ? f.mood : ''),
        h('td', {class: 'actions'}, up, down, rm));
    }))));
}

// A list of candidates, each with an "Add" button.
function pickList(id, rows, add) {
  if (rows.length === 0) return h('p', {class: 'muted', id}, 'Nothing to pick here yet.');
  return h('ul', {class: 'plain picks', id}, rows.slice(0, PICK_ROWS).map((r) => {
    const b = h('button', {type: 'button', class: 'small', 'aria-label': `Add ${r.name} to the list`}, 'Add');
    b.addEventListener('click', async () => {
      b.disabled = true;
      if (!(await add(r.uri, r.source))) b.disabled = false;
    });
    return h('li', {dataset: {uri: r.uri}}, b, ' ', r.label ? h('span', {class: 'muted'}, `${r.label} `) : null,
      h('strong', null, r.name || r.uri), r.artist ? ` — ${r.artist}` : '');
  }));
}

function pickCard(ctx, add) {
  const from = h('select', {id: 'pick-from'}, h('option', {value: 'library'}, 'Liked Songs'),
    h('option', {value: 'top'}, 'Top tracks'), h('option', {value: 'movement'}, 'Top-track movement'));
  const range = h('select', {id: 'pick-range'}, RANGES.map(([v, l]) => h('option', {value: v}, l)));
  const q = h('input', {type: 'search', id: 'pick-q', maxlength: '200', placeholder: 'Title, artist or album', autocomplete: 'off'});
  const qField = h('div', {class: 'field'}, h('label', {for: 'pick-q'}, 'Search'), q);
  const rangeField = h('div', {class: 'field'}, h('label', {for: 'pick-range'}, 'Period'), range);
  const out = h('div', {id: 'pick-results', 'aria-live': 'polite'});
  let seq = 0, timer = null;
  const load = async () => {
    const mine = ++seq;
    qField.hidden = from.value !== 'library';
    rangeField.hidden = from.value === 'library';
    out.dataset.loading = 'true';
    try {
      let rows;
      if (from.value === 'library') {
        const params = new URLSearchParams({limit: PICK_ROWS});
        if (q.value.trim()) params.set('q', q.value.trim());
        const data = await api(`/api/library/tracks?${params}`, {signal: ctx.signal});
        rows = data.items.map((e) => e.track || {}).filter((t) => t.uri && t.uri.startsWith('spotify:track:'))
          .map((t) => ({uri: t.uri, name: t.name, artist: artistNames(t), source: 'library'}));
      } else if (from.value === 'top') {
        const data = await api(`/api/top/tracks?range=${range.value}`, {signal: ctx.signal});
        rows = (data.items || []).filter((e) => e.track && e.track.uri)
          .map((e) => ({uri: e.track.uri, name: e.track.name, artist: artistNames(e.track), label: `#${e.rank}`, source: 'top'}));
      } else {
        let mv = null;
        try {
          mv = await api(`/api/top/movement?range=${range.value}`, {signal: ctx.signal});
        } catch (err) {
          if (err.status !== 404) throw err; // 404: no top lists recorded yet
        }
        rows = [];
        for (const e of (mv && mv.new) || []) rows.push({...e, label: 'New'});
        for (const e of (mv && mv.climbers) || []) rows.push({...e, label: `▲ ${e.change}`});
        rows = rows.filter((e) => e.track && e.track.uri)
          .map((e) => ({uri: e.track.uri, name: e.track.name, artist: e.track.artist, label: e.label, source: 'movement'}));
      }
      if (mine !== seq) return;
      clear(out, pickList('pick-list', rows, add));
      out.dataset.loading = 'false';
      out.dataset.from = from.value;
    } catch (err) {
      if (err.name !== 'AbortError') clear(out, errorBox(err));
    }
  };
  q.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(load, 250); });
  from.addEventListener('change', load);
  range.addEventListener('change', load);
  const link = h('input', {type: 'text', id: 'add-link', maxlength: '512', placeholder: 'https://open.spotify.com/track/… or spotify:track:…', autocomplete: 'off'});
  const addBtn = h('button', {type: 'submit', class: 'primary', id: 'add-go'}, 'Add');
  const linkForm = h('form', {class: 'row', id: 'add-form'},
    h('div', {class: 'field grow'}, h('label', {for: 'add-link'}, 'Spotify link or URI'), link), addBtn);
  linkForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    addBtn.disabled = true;
    if (await add(link.value.trim(), 'uri')) link.value = '';
    addBtn.disabled = false;
  });
  const card = h('section', {class: 'card', 'aria-labelledby': 'pick-h'}, h('h2', {id: 'pick-h'}, 'Add tracks'), linkForm,
    h('div', {class: 'row controls'}, h('div', {class: 'field'}, h('label', {for: 'pick-from'}, 'Pick from'), from), qField, rangeField), out);
  return {card, load};
}

function csvCard(ctx, reload) {
  const file = h('input', {type: 'file', id: 'csv-file', accept: '.csv,text/csv'});
  const go = h('button', {type: 'submit', id: 'csv-import'}, 'Import (replaces the list)');
  const out = h('div', {id: 'csv-result', 'aria-live': 'polite'});
  const form = h('form', {class: 'row', id: 'csv-form'}, h('div', {class: 'field'}, h('label', {for: 'csv-file'}, 'CSV file'), file), go);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clear(out);
    if (!file.files.length) {
      clear(out, h('p', {class: 'error-text'}, 'Choose a CSV file first.'));
      return;
    }
    const fd = new FormData();
    fd.append('file', file.files[0], file.files[0].name);
    go.disabled = true;
    try {
      const r = await api('/api/trending/import', {method: 'POST', form: fd, signal: ctx.signal});
      clear(out, h('p', {class: 'banner ok', dataset: {imported: r.imported}}, `Imported ${fmtNumber(r.imported)} tracks.`));
      announce('The list was imported.');
      await reload();
    } catch (err) {
      if (err.name !== 'AbortError') clear(out, errorBox(err));
    } finally {
      go.disabled = false;
    }
  });
  return h('section', {class: 'card', 'aria-labelledby': 'csv-h'}, h('h2', {id: 'csv-h'}, 'CSV'),
    h('p', null, h('a', {class: 'button', id: 'csv-export', href: '/api/trending/export', download: 'trending.csv'}, 'Download the list as CSV')),
    h('p', {class: 'muted'}, 'An import needs a "Track URI" column (as the download has). Every row is checked first: one bad row and nothing changes.'),
    form, out);
}

function playlistCard(ctx) {
  const name = h('input', {type: 'text', id: 'trending-name', maxlength: '200', placeholder: 'Trending tracks'});
  const go = h('button', {type: 'submit', class: 'primary', id: 'trending-playlist-go'}, 'Make a playlist of this list');
  const slot = h('div', {id: 'trending-progress'});
  const result = h('div', {id: 'trending-playlist-result', 'aria-live': 'polite'});
  const form = h('form', {id: 'trending-playlist-form'},
    h('div', {class: 'field'}, h('label', {for: 'trending-name'}, 'Playlist name (optional)'), name), h('div', {class: 'row'}, go), slot, result);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    go.disabled = true;
    clear(result);
    const body = name.value.trim() ? {name: name.value.trim()} : {};
    const end = await runJob(slot, 'Playlist progress', () => api('/api/trending/playlist', {method: 'POST', body, signal: ctx.signal}), ctx.signal);
    go.disabled = false;
    if (end && end.state === 'done') {
      const m = /playlist (\S+),/.exec(end.message || '');
      if (m) {
        clear(result, h('p', {class: 'banner ok', dataset: {playlistId: m[1]}}, 'Done: ',
          h('a', {href: spotifyUrl('playlist', m[1]), rel: 'noopener', target: '_blank', id: 'trending-playlist-link'}, 'open the playlist in Spotify')));
      }
      announce('The playlist is ready.');
    }
  });
  return h('section', {class: 'card', 'aria-labelledby': 'trending-pl-h'}, h('h2', {id: 'trending-pl-h'}, 'Playlist'),
    h('p', {class: 'muted'}, 'keeptrack writes the list, in its order, into a private playlist. Doing it again replaces that playlist\'s tracks.'), form);
}

export async function trendingPage(ctx) {
  const listSlot = h('div', {id: 'trending-list', 'aria-live': 'polite'});
  const why = h('p', {class: 'muted', id: 'trending-features'});
  const status = h('div', {id: 'trending-status'});
  let list = null;
  const show = (data) => {
    list = data;
    listSlot.dataset.total = data.total;
    const af = data.audio_features || {};
    why.textContent = af.available ? '' : `Energy, key, valence, tempo and mood are not shown: ${af.reason}.`;
    why.hidden = !!af.available;
    clear(listSlot, listTable(data, move, remove));
  };
  const fail = (err) => { if (err.name !== 'AbortError') clear(status, errorBox(err)); };
  const reload = async () => show(await api('/api/trending', {signal: ctx.signal}));
  async function move(from, to) {
    const uris = list.tracks.map((t) => t.uri);
    const [u] = uris.splice(from, 1);
    uris.splice(to, 0, u);
    clear(status);
    try {
      show(await api('/api/trending', {method: 'PUT', body: {uris}, signal: ctx.signal}));
      const b = listSlot.querySelectorAll('tbody tr')[to];
      if (b) b.querySelector('button').focus();
    } catch (err) { fail(err); }
  }
  async function remove(t) {
    clear(status);
    try {
      show(await api(`/api/trending/${encodeURIComponent(t.id)}`, {method: 'DELETE', signal: ctx.signal}));
      announce(`Removed ${t.name}.`);
    } catch (err) { fail(err); }
  }
  async function add(track, source) {
    clear(status);
    try {
      const r = await api('/api/trending', {method: 'POST', body: {track, source}, signal: ctx.signal});
      await reload();
      const msg = r.added ? `Added ${r.track.name}.` : `${r.track.name} is already in the list.`;
      clear(status, h('p', {class: 'banner ok', dataset: {added: String(r.added)}}, msg));
      announce(msg);
      return true;
    } catch (err) {
      fail(err);
      return false;
    }
  }
  const pick = pickCard(ctx, add);
  ctx.root.append(h('h1', null, 'Trending tracks'),
    h('section', {class: 'card', 'aria-labelledby': 'trending-h'}, h('h2', {id: 'trending-h'}, 'Your list'), why, listSlot),
    status, pick.card,
    h('div', {class: 'grid'}, csvCard(ctx, reload), playlistCard(ctx)));
  await Promise.all([reload(), pick.load()]);
}
