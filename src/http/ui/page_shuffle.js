// page_shuffle.js - true shuffle: pick Liked Songs or a playlist and the
// order (uniform, or spread to keep an artist's tracks apart), follow the
// job's progress, open the result; list and delete the shuffled playlists;
// the shuffle statistics.

import {api, runJob} from './api.js';
import {h, clear, fmtNumber, fmtDateTime, announce, errorBox} from './dom.js';

const spotifyUrl = (id) => `https://open.spotify.com/playlist/${encodeURIComponent(id)}`;

function madeTable(playlists) {
  if (playlists.length === 0) return h('p', {class: 'muted', id: 'shuffled-none'}, 'No shuffled playlists yet.');
  return h('div', {class: 'table-wrap'}, h('table', {id: 'shuffled-table'},
    h('thead', null, h('tr', null, h('th', {scope: 'col'}, 'Playlist'), h('th', {scope: 'col'}, 'From'),
      h('th', {scope: 'col'}, 'Order'), h('th', {scope: 'col', class: 'num'}, 'Tracks'), h('th', {scope: 'col', class: 'hide-narrow'}, 'Updated'))),
    h('tbody', null, playlists.map((p) => h('tr', {dataset: {id: p.playlist_id, status: p.status}},
      h('td', null, h('a', {href: spotifyUrl(p.playlist_id), rel: 'noopener', target: '_blank'}, p.name || p.playlist_id)),
      h('td', null, p.source === 'liked' ? 'Liked Songs' : p.source), h('td', null, p.mode || p.kind),
      h('td', {class: 'num'}, fmtNumber(p.tracks)), h('td', {class: 'hide-narrow'}, fmtDateTime(p.updated_at)))))));
}

function statsText(stats) {
  const mine = stats.mine || {}, overall = stats.overall || {};
  return `You: ${fmtNumber(mine.shuffles)} shuffle${mine.shuffles === 1 ? '' : 's'}, ${fmtNumber(mine.tracks_shuffled)} tracks. ` +
    `Everyone here: ${fmtNumber(overall.shuffles)} shuffle${overall.shuffles === 1 ? '' : 's'} by ${fmtNumber(overall.users)} ${overall.users === 1 ? 'person' : 'people'}.`;
}

export async function shufflePage(ctx) {
  const [playlists, stats] = await Promise.all([
    api('/api/playlists?limit=500', {signal: ctx.signal}),
    api('/api/stats/shuffles', {signal: ctx.signal}),
  ]);
  const mine = stats.mine || {};
  const madeIds = new Set((mine.playlists || []).map((p) => p.playlist_id));
  // Spotify only lets an app read the tracks of playlists the user owns or
  // collaborates on; keeptrack's own shuffles are left out as sources.
  const sources = playlists.items.filter((p) => !madeIds.has(p.id) &&
    ((p.owner && p.owner.id === ctx.me.spotify_id) || p.collaborative));
  const source = h('select', {id: 'shuffle-source', name: 'source'}, h('option', {value: 'liked'}, 'Liked Songs'),
    sources.map((p) => h('option', {value: p.id}, `${p.name} (${fmtNumber(p.items_total)})`)));
  const mode = (value, label, hint, checked) => h('div', null,
    h('input', {type: 'radio', name: 'mode', id: `mode-${value}`, value, checked: checked ? true : null}),
    h('label', {for: `mode-${value}`}, label), h('span', {class: 'muted'}, ` — ${hint}`));
  const name = h('input', {type: 'text', id: 'shuffle-name', maxlength: '200', placeholder: 'Default name'});
  const go = h('button', {type: 'submit', class: 'primary', id: 'shuffle-go'}, 'Shuffle');
  const slot = h('div', {id: 'shuffle-progress'});
  const result = h('div', {id: 'shuffle-result', 'aria-live': 'polite'});
  const listSlot = h('div', {id: 'shuffled-list'}, madeTable(mine.playlists || []));
  const statsEl = h('p', {id: 'shuffle-stats'}, statsText(stats));
  const form = h('form', {id: 'shuffle-form'},
    h('div', {class: 'field'}, h('label', {for: 'shuffle-source'}, 'Shuffle'), source),
    h('fieldset', null, h('legend', null, 'Order'),
      mode('uniform', 'Truly random', 'every order equally likely', true),
      mode('spread', 'Spread', 'random, keeping the same artist and album apart', false)),
    h('div', {class: 'field'}, h('label', {for: 'shuffle-name'}, 'Name of the new playlist (optional)'), name),
    h('div', {class: 'row'}, go), slot, result);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    go.disabled = true;
    clear(result);
    const body = {source: source.value, mode: form.elements.mode.value};
    if (name.value.trim()) body.name = name.value.trim();
    const end = await runJob(slot, 'Shuffle progress', () => api('/api/shuffle', {method: 'POST', body, signal: ctx.signal}), ctx.signal);
    go.disabled = false;
    if (!end || end.state !== 'done') {
      if (end) announce('The shuffle failed.');
      return;
    }
    try {
      const now = await api('/api/stats/shuffles', {signal: ctx.signal});
      const made = (now.mine.history || []).find((x) => x.source === body.source) || now.mine.history[0];
      clear(listSlot, madeTable(now.mine.playlists || []));
      statsEl.textContent = statsText(now);
      if (made) {
        const pl = (now.mine.playlists || []).find((p) => p.playlist_id === made.playlist_id);
        clear(result, h('p', {class: 'banner ok', dataset: {playlistId: made.playlist_id, tracks: made.tracks}},
          `Done: ${fmtNumber(made.tracks)} tracks in `,
          h('a', {href: spotifyUrl(made.playlist_id), rel: 'noopener', target: '_blank', id: 'shuffle-link'}, pl ? pl.name : 'the new playlist'),
          made.local_files_skipped ? ` (${made.local_files_skipped} local files cannot be added by apps)` : ''));
      }
      announce('The shuffle is done.');
    } catch (err) {
      if (err.name !== 'AbortError') result.append(errorBox(err));
    }
  });
  const del = h('button', {type: 'button', class: 'danger', id: 'shuffle-delete-all'}, 'Delete all shuffled playlists');
  const delOut = h('p', {id: 'shuffle-delete-result', 'aria-live': 'polite'});
  del.addEventListener('click', async () => {
    if (!confirm('Remove every playlist keeptrack shuffled from your Spotify library?')) return;
    del.disabled = true;
    try {
      const r = await api('/api/shuffle', {method: 'DELETE', signal: ctx.signal});
      delOut.textContent = `Deleted ${fmtNumber(r.deleted)} shuffled playlist${r.deleted === 1 ? '' : 's'}.`;
      delOut.dataset.deleted = r.deleted;
      const now = await api('/api/stats/shuffles', {signal: ctx.signal});
      clear(listSlot, madeTable((now.mine.playlists || []).filter((p) => p.status !== 'deleted')));
      statsEl.textContent = statsText(now);
    } catch (err) {
      if (err.name !== 'AbortError') clear(delOut, errorBox(err));
    } finally {
      del.disabled = false;
    }
  });
  ctx.root.append(h('h1', null, 'Shuffle'),
    h('div', {class: 'grid'},
      h('section', {class: 'card', 'aria-labelledby': 'shuffle-h'}, h('h2', {id: 'shuffle-h'}, 'Make a shuffled copy'),
        h('p', {class: 'muted'}, 'keeptrack writes every track into a new private playlist in random order. Shuffling the same source again replaces the earlier copy.'), form),
      h('section', {class: 'card', 'aria-labelledby': 'shuffled-h'}, h('h2', {id: 'shuffled-h'}, 'Your shuffled playlists'),
        listSlot, h('div', {class: 'row'}, del), delOut,
        h('h3', null, 'Statistics'), statsEl)));
}
