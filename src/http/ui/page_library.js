// page_library.js - the library copy: Liked Songs (search, sort, pages),
// playlists, and one playlist's items with its version history: a diff
// between two versions and restoring an earlier version into Spotify.

import {api, runJob} from './api.js';
import {h, clear, fmtNumber, fmtDate, fmtDateTime, fmtDuration, artistNames, announce, errorBox} from './dom.js';

const PAGE = 50;
const SORTS = [['added_at', 'Date added'], ['name', 'Title'], ['artist', 'Artist'], ['release_date', 'Release date']];

function tabs(current) {
  return h('nav', {class: 'tabs', 'aria-label': 'Library sections'},
    h('a', {href: '#/library', 'aria-current': current === 'liked' ? 'page' : null}, 'Liked Songs'),
    h('a', {href: '#/library/playlists', 'aria-current': current === 'playlists' ? 'page' : null}, 'Playlists'));
}

function pager(page, total, go) {
  const from = total === 0 ? 0 : page * PAGE + 1, to = Math.min(total, (page + 1) * PAGE);
  const prev = h('button', {type: 'button', disabled: page === 0 ? true : null}, 'Previous');
  const next = h('button', {type: 'button', disabled: to >= total ? true : null}, 'Next');
  prev.addEventListener('click', () => go(page - 1));
  next.addEventListener('click', () => go(page + 1));
  return h('div', {class: 'pager'}, prev, next,
    h('span', {class: 'muted', dataset: {total}}, `${fmtNumber(from)}–${fmtNumber(to)} of ${fmtNumber(total)}`));
}

function tracksTable(items, caption) {
  return h('div', {class: 'table-wrap'}, h('table', {id: 'tracks-table'},
    h('caption', {class: 'visually-hidden'}, caption),
    h('thead', null, h('tr', null, h('th', {scope: 'col', class: 'num'}, '#'), h('th', {scope: 'col'}, 'Title'),
      h('th', {scope: 'col'}, 'Artist'), h('th', {scope: 'col', class: 'hide-narrow'}, 'Album'),
      h('th', {scope: 'col', class: 'hide-narrow'}, 'Released'), h('th', {scope: 'col', class: 'num hide-narrow'}, 'Length'),
      h('th', {scope: 'col', class: 'hide-narrow'}, 'Added'))),
    h('tbody', null, items.map((e) => {
      const t = e.track || e.item || {};
      return h('tr', {dataset: {uri: t.uri || ''}},
        h('td', {class: 'num'}, e.position + 1), h('td', null, t.name || (e.is_local ? 'Local file' : 'Unavailable')),
        h('td', null, artistNames(t)), h('td', {class: 'hide-narrow'}, t.album ? t.album.name : t.show ? t.show.name : ''),
        h('td', {class: 'hide-narrow'}, t.album ? t.album.release_date || '' : t.release_date || ''),
        h('td', {class: 'num hide-narrow'}, fmtDuration(t.duration_ms)), h('td', {class: 'hide-narrow'}, fmtDate(e.added_at)));
    }))));
}

async function likedSection(ctx) {
  const q = h('input', {type: 'search', id: 'liked-q', name: 'q', maxlength: '200', placeholder: 'Title, artist or album', autocomplete: 'off'});
  const sort = h('select', {id: 'liked-sort'}, SORTS.map(([v, l]) => h('option', {value: v}, l)));
  const order = h('select', {id: 'liked-order'}, h('option', {value: ''}, 'Default order'),
    h('option', {value: 'asc'}, 'Ascending'), h('option', {value: 'desc'}, 'Descending'));
  const results = h('div', {id: 'liked-results', 'aria-live': 'polite'});
  let page = 0, seq = 0, timer = null;
  const load = async () => {
    const mine = ++seq;
    const params = new URLSearchParams({limit: PAGE, offset: page * PAGE, sort: sort.value});
    if (q.value.trim()) params.set('q', q.value.trim());
    if (order.value) params.set('order', order.value);
    results.dataset.loading = 'true';
    try {
      const data = await api(`/api/library/tracks?${params}`, {signal: ctx.signal});
      if (mine !== seq) return; // a newer query already answered
      clear(results, tracksTable(data.items, 'Liked Songs'), pager(page, data.total, (p) => { page = p; load(); }));
      results.dataset.total = data.total;
      results.dataset.query = params.toString();
      results.dataset.loading = 'false';
    } catch (err) {
      if (err.name !== 'AbortError') clear(results, errorBox(err));
    }
  };
  q.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(() => { page = 0; load(); }, 250); });
  for (const el of [sort, order]) el.addEventListener('change', () => { page = 0; load(); });
  ctx.root.append(h('form', {class: 'row', role: 'search', onsubmit: (e) => { e.preventDefault(); page = 0; load(); }},
    h('div', {class: 'field'}, h('label', {for: 'liked-q'}, 'Search Liked Songs'), q),
    h('div', {class: 'field'}, h('label', {for: 'liked-sort'}, 'Sort by'), sort),
    h('div', {class: 'field'}, h('label', {for: 'liked-order'}, 'Order'), order)), results);
  await load();
}

async function playlistsSection(ctx) {
  const data = await api('/api/playlists?limit=500', {signal: ctx.signal});
  ctx.root.append(h('p', {class: 'muted'}, `${fmtNumber(data.total)} playlists`),
    h('div', {class: 'table-wrap'}, h('table', {id: 'playlists-table'},
      h('thead', null, h('tr', null, h('th', {scope: 'col'}, 'Name'), h('th', {scope: 'col'}, 'Owner'),
        h('th', {scope: 'col', class: 'num'}, 'Tracks'), h('th', {scope: 'col', class: 'hide-narrow'}, 'Copy'))),
      h('tbody', null, data.items.map((p) => h('tr', {dataset: {id: p.id}},
        h('td', null, h('a', {href: `#/playlist/${encodeURIComponent(p.id)}`}, p.name || '(no name)')),
        h('td', null, p.owner ? p.owner.display_name || p.owner.id : ''),
        h('td', {class: 'num'}, fmtNumber(p.items_total)),
        h('td', {class: 'hide-narrow'}, p.items_synced ? 'tracks kept' : 'details only')))))));
}

export async function libraryPage(ctx) {
  const section = ctx.args[0] === 'playlists' ? 'playlists' : 'liked';
  ctx.root.append(h('h1', null, 'Library'), tabs(section));
  if (section === 'playlists') await playlistsSection(ctx);
  else await likedSection(ctx);
}

// The names of tracks we know (this playlist's current items), for diffs.
function namesOf(items) {
  const m = new Map();
  for (const e of items) {
    const t = e.item || e.track;
    if (t && t.uri) m.set(t.uri, `${t.name}${t.artists ? ` — ${artistNames(t)}` : ''}`);
  }
  return m;
}

function diffList(title, cls, entries, names) {
  return h('div', {dataset: {diff: cls}}, h('h3', null, `${title} (${entries.length})`),
    entries.length === 0 ? h('p', {class: 'muted'}, 'None.') :
      h('ul', {class: 'plain'}, entries.slice(0, 200).map((e) => h('li', {class: `diff-${cls}`, dataset: {uri: e.uri || ''}},
        `${e.position + 1}. ${names.get(e.uri) || e.uri || 'unavailable item'}`))));
}

// POST /api/playlists/{id}/versions/restore {snapshot, mode} -> 202
// {restore_id, job_id}; the job's progress is shown until it ends. The
// snapshot goes in the body: snapshot ids are base64 and may hold '/'.
async function restoreVersion(ctx, id, snapshot, slot, inPlace) {
  let restore = null;
  const end = await runJob(slot, 'Restore progress', async () => {
    restore = await api(`/api/playlists/${encodeURIComponent(id)}/versions/restore`,
      {method: 'POST', body: {snapshot, mode: inPlace ? 'in_place' : 'new'}, signal: ctx.signal});
    return api(`/api/jobs/${restore.job_id}`, {signal: ctx.signal});
  }, ctx.signal);
  if (end) {
    slot.dataset.restoreId = restore.restore_id;
    announce(end.state === 'done' ? 'Version restored.' : 'Restore failed.');
    // The job writes to Spotify only: this page's copy (tracks, versions)
    // changes with the next sync, so say so rather than look stale.
    if (end.state === 'done') {
      slot.append(h('p', {class: 'muted', id: 'restore-next'}, 'Spotify has this version now; the tracks and versions here follow at the next sync ("Sync now" on the dashboard).'));
    }
  }
}

function versionsSection(ctx, pl, versions, names) {
  const wrap = h('section', {class: 'card', 'aria-labelledby': 'versions-h', id: 'versions'}, h('h2', {id: 'versions-h'}, 'Version history'));
  if (versions.length === 0) {
    wrap.append(h('p', {class: 'muted'}, 'No versions kept yet: keeptrack keeps one each time a sync sees the playlist change.'));
    return wrap;
  }
  const opts = () => versions.map((v, i) => h('option', {value: v.snapshot_id},
    `${fmtDateTime(v.seen_at)} · ${fmtNumber(v.items_total)} tracks${i === 0 ? ' (latest)' : ''}`));
  const from = h('select', {id: 'diff-from'}, opts());
  const to = h('select', {id: 'diff-to'}, opts());
  from.value = versions[Math.min(1, versions.length - 1)].snapshot_id;
  to.value = versions[0].snapshot_id;
  const out = h('div', {id: 'diff-result', 'aria-live': 'polite'});
  const restoreSlot = h('div', {id: 'restore-progress'});
  const show = async () => {
    try {
      const d = await api(`/api/playlists/${encodeURIComponent(pl.id)}/diff?from=${encodeURIComponent(from.value)}&to=${encodeURIComponent(to.value)}`, {signal: ctx.signal});
      clear(out, h('p', {class: 'muted'}, d.reordered ? 'The remaining tracks were also reordered.' : 'Same order otherwise.'),
        diffList('Added', 'added', d.added, names), diffList('Removed', 'removed', d.removed, names));
      out.dataset.from = d.from; out.dataset.to = d.to;
    } catch (err) {
      if (err.name !== 'AbortError') clear(out, errorBox(err));
    }
  };
  const restoreNew = h('button', {type: 'button', id: 'restore-new'}, 'Restore "from" as a new playlist');
  const restoreInPlace = h('button', {type: 'button', id: 'restore-in-place', class: 'danger'}, 'Put "from" back into this playlist');
  restoreNew.addEventListener('click', () => restoreVersion(ctx, pl.id, from.value, restoreSlot, false));
  restoreInPlace.addEventListener('click', () => {
    if (confirm(`Replace the tracks of "${pl.name}" on Spotify with the version of ${from.selectedOptions[0].textContent}?`)) {
      restoreVersion(ctx, pl.id, from.value, restoreSlot, true);
    }
  });
  from.addEventListener('change', show);
  to.addEventListener('change', show);
  // A version's custom cover comes from keeptrack's own copy (by hash):
  // Spotify stops serving a replaced cover's address.
  wrap.append(h('ul', {class: 'plain', id: 'versions-list'}, versions.map((v) => h('li', {dataset: {snapshot: v.snapshot_id}},
    v.cover ? h('img', {class: 'cover-thumb', src: `/api/covers/${encodeURIComponent(v.cover.sha256)}`,
      alt: 'Custom cover of this version', width: 40, height: 40, dataset: {sha256: v.cover.sha256}}) : null,
    `${fmtDateTime(v.seen_at)} — ${fmtNumber(v.items_total)} tracks`))),
  h('h3', null, 'Compare two versions'),
  h('div', {class: 'row'}, h('div', {class: 'field'}, h('label', {for: 'diff-from'}, 'From'), from),
    h('div', {class: 'field'}, h('label', {for: 'diff-to'}, 'To'), to)),
  out, h('h3', null, 'Restore'), h('div', {class: 'row'}, restoreNew, restoreInPlace), restoreSlot);
  show();
  return wrap;
}

export async function playlistPage(ctx) {
  const id = ctx.args[0];
  let page = 0;
  const [pl, versions] = await Promise.all([
    api(`/api/playlists/${encodeURIComponent(id)}?limit=500`, {signal: ctx.signal}),
    api(`/api/playlists/${encodeURIComponent(id)}/versions`, {signal: ctx.signal}),
  ]);
  const names = namesOf(pl.items.items);
  const itemsSlot = h('div', {id: 'playlist-items'});
  const showItems = async () => {
    const data = page === 0 ? pl : await api(`/api/playlists/${encodeURIComponent(id)}?limit=${PAGE}&offset=${page * PAGE}`, {signal: ctx.signal});
    const items = page === 0 ? data.items.items.slice(0, PAGE) : data.items.items;
    clear(itemsSlot, pl.items_synced || data.items.total ? tracksTable(items, pl.name) :
      h('p', {class: 'muted'}, 'keeptrack keeps the tracks of playlists you own or collaborate on; Spotify does not share the others\' tracks.'),
    data.items.total > PAGE ? pager(page, data.items.total, (p) => { page = p; showItems(); }) : null);
  };
  ctx.root.append(h('p', null, h('a', {href: '#/library/playlists'}, '← Playlists')),
    h('h1', {id: 'playlist-name'}, pl.name || '(no name)'),
    h('p', {class: 'muted'}, `${fmtNumber(pl.items_total)} tracks · by ${pl.owner ? pl.owner.display_name || pl.owner.id : '?'}`,
      pl.removed_at ? ` · removed from your Spotify ${fmtDate(pl.removed_at)}` : ''),
    h('div', {class: 'grid'}, versionsSection(ctx, pl, versions.items, names)),
    h('h2', null, 'Tracks'), itemsSlot);
  await showItems();
}
