// page_shares.js - read-only share links (issue 18, item 3): the "Share"
// card of Settings (make a link to chosen pages, list and revoke links,
// copy a link's address) and the public page a link opens,
// #/shared/<token>, which anyone can read without logging in. The public
// page shows only what GET /api/public/<token>/<page> answers, without the
// navigation; the token is the capability, so it is never stored here
// (the address is shown once, right after the link is made).

import {api, fetchAll} from './api.js';
import {h, clear, errorBox, fmtNumber, fmtDate, fmtDateTime, fmtDuration, announce} from './dom.js';

const PAGE_NAMES = {stats: 'Library statistics', tops: 'Top tracks'};
const pageName = (p, names) => PAGE_NAMES[p] ||
  (p.startsWith('playlist:') ? `Versions of ${names.get(p.slice(9)) || 'a playlist'}` : p);

function linksTable(shares, names, onRevoke) {
  if (shares.length === 0) return h('p', {class: 'muted', id: 'shares-none'}, 'No share links yet.');
  return h('div', {class: 'table-wrap'}, h('table', {id: 'shares-table'},
    h('thead', null, h('tr', null, ['Label', 'Shows', 'Expires', ''].map((t) => h('th', {scope: 'col'}, t)))),
    h('tbody', null, shares.map((s) => {
      const revoke = h('button', {type: 'button', class: 'danger'}, 'Revoke');
      revoke.addEventListener('click', () => onRevoke(s));
      return h('tr', {dataset: {id: s.id}},
        h('td', null, s.label || '–'),
        h('td', null, s.pages.map((p) => pageName(p, names)).join(', ')),
        h('td', null, s.expired ? 'expired' : (s.expires_at ? fmtDate(s.expires_at) : 'never')),
        h('td', null, revoke));
    }))));
}

// The Settings card. Resolves with the card element.
export async function sharesCard(ctx) {
  const [list, pls] = await Promise.all([
    api('/api/shares', {signal: ctx.signal}),
    fetchAll('/api/playlists', {limit: 50, maxItems: 500, signal: ctx.signal}),
  ]);
  const names = new Map(pls.items.map((p) => [p.id, p.name]));
  const stats = h('input', {type: 'checkbox', id: 'share-stats', checked: true});
  const tops = h('input', {type: 'checkbox', id: 'share-tops'});
  const playlist = h('select', {id: 'share-playlist'}, h('option', {value: ''}, 'No playlist'),
    pls.items.map((p) => h('option', {value: p.id}, p.name)));
  const expiry = h('select', {id: 'share-expiry'}, [['', 'Never'], ['1', '1 day'], ['7', '7 days'],
    ['30', '30 days'], ['365', '1 year']].map(([v, t]) => h('option', {value: v}, t)));
  const label = h('input', {type: 'text', id: 'share-label', maxlength: 100, placeholder: 'e.g. for Sam'});
  const go = h('button', {type: 'button', class: 'primary', id: 'share-go'}, 'Make link');
  const result = h('div', {id: 'share-result', 'aria-live': 'polite'});
  const tableSlot = h('div', {id: 'shares-list'});
  const reload = async () => {
    const now = await api('/api/shares', {signal: ctx.signal});
    clear(tableSlot, linksTable(now.shares, names, revoke));
  };
  const revoke = async (s) => {
    if (!confirm('Revoke this link? Anyone who has it will no longer see the pages.')) return;
    try {
      await api(`/api/shares/${encodeURIComponent(s.id)}`, {method: 'DELETE'});
      announce('Link revoked');
      await reload();
    } catch (err) { clear(result, errorBox(err)); }
  };
  go.addEventListener('click', async () => {
    const pages = [];
    if (stats.checked) pages.push('stats');
    if (tops.checked) pages.push('tops');
    if (playlist.value) pages.push(`playlist:${playlist.value}`);
    const body = {pages};
    if (expiry.value) body.expires_in_days = Number(expiry.value);
    if (label.value) body.label = label.value;
    try {
      const link = await api('/api/shares', {method: 'POST', body});
      const url = h('input', {type: 'text', id: 'share-url', readonly: true, value: link.url});
      const copy = h('button', {type: 'button', id: 'share-copy'}, 'Copy');
      copy.addEventListener('click', async () => {
        url.select();
        try { await navigator.clipboard.writeText(link.url); announce('Link copied'); } catch { /* selected for manual copy */ }
      });
      clear(result, h('p', null, 'Anyone with this address can see the chosen pages. It is shown only now:'),
        h('div', {class: 'row'}, url, copy));
      await reload();
    } catch (err) { clear(result, errorBox(err)); }
  });
  clear(tableSlot, linksTable(list.shares, names, revoke));
  return h('section', {class: 'card wide', 'aria-labelledby': 'share-h', id: 'share-card'},
    h('h2', {id: 'share-h'}, 'Share'),
    h('p', {class: 'muted'}, 'Make a read-only link to some of your pages. It never shows your account or anything else.'),
    h('div', {class: 'row'},
      h('label', null, stats, ' Library statistics'), h('label', null, tops, ' Top tracks')),
    h('div', {class: 'row'},
      h('label', null, 'Playlist versions ', playlist),
      h('label', null, 'Expires ', expiry),
      h('label', null, 'Label ', label)),
    h('div', {class: 'row'}, go), result, tableSlot);
}

function statsSection(d) {
  return h('section', {class: 'card', dataset: {shared: 'stats'}}, h('h2', null, PAGE_NAMES.stats),
    h('dl', null,
      h('dt', null, 'Liked songs'), h('dd', {id: 'shared-tracks'}, fmtNumber(d.tracks)),
      h('dt', null, 'Artists'), h('dd', null, fmtNumber(d.artists)),
      h('dt', null, 'Albums'), h('dd', null, fmtNumber(d.albums)),
      h('dt', null, 'Total time'), h('dd', null, fmtDuration(d.duration ? d.duration.total_ms : 0))),
    h('h3', null, 'Top artists'),
    h('ol', {class: 'plain'}, (d.top_artists || []).map((a) => h('li', null, `${a.name} (${fmtNumber(a.tracks)})`))));
}

function topsSection(d) {
  return h('section', {class: 'card wide', dataset: {shared: 'tops'}}, h('h2', null, `${PAGE_NAMES.tops}, all time`),
    h('div', {class: 'table-wrap'}, h('table', {id: 'shared-tops'},
      h('thead', null, h('tr', null, ['#', 'Track', 'Plays', 'Time'].map((t) => h('th', {scope: 'col'}, t)))),
      h('tbody', null, d.items.map((i) => h('tr', null, h('td', {class: 'num'}, i.rank), h('td', null, i.name),
        h('td', {class: 'num'}, fmtNumber(i.plays)), h('td', {class: 'num'}, fmtDuration(i.ms))))))));
}

function versionsSection(page, d) {
  return h('section', {class: 'card wide', dataset: {shared: page}}, h('h2', null, 'Playlist versions'),
    d.items.length === 0 ? h('p', {class: 'muted'}, 'No versions kept yet.') :
      h('div', {class: 'table-wrap'}, h('table', {class: 'shared-versions'},
        h('thead', null, h('tr', null, ['Seen', 'Tracks'].map((t) => h('th', {scope: 'col'}, t)))),
        h('tbody', null, d.items.map((v) => h('tr', null, h('td', null, fmtDateTime(v.seen_at)),
          h('td', {class: 'num'}, fmtNumber(v.items_total))))))));
}

// The public page of a link: renders into root; never asks who is logged in.
export async function sharedPage(root, token) {
  const base = `/api/public/${encodeURIComponent(token)}`;
  root.append(h('h1', null, 'Shared from keeptrack'));
  let index;
  try {
    index = await api(base);
  } catch (err) {
    root.append(h('p', {id: 'shared-missing'}, err.status === 404
      ? 'This link does not exist, has expired or was revoked.' : err.message));
    root.dataset.ready = 'error';
    return;
  }
  const grid = h('div', {class: 'grid'});
  root.append(grid);
  for (const page of index.pages) {
    try {
      if (page === 'stats') grid.append(statsSection(await api(`${base}/stats`)));
      else if (page === 'tops') grid.append(topsSection(await api(`${base}/tops?period=all&limit=10`)));
      else grid.append(versionsSection(page, await api(`${base}/${encodeURIComponent(page)}`)));
    } catch (err) { grid.append(errorBox(err)); }
  }
  root.dataset.ready = 'true';
}
