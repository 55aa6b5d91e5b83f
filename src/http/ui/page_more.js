// page_more.js - the smaller pages: new releases, export and backups
// (downloads, restore, history import), settings (sync, disconnect, delete
// my data) and admin (users, jobs, failures; needs the admin token).

import {api, runJob, isMissingRoute, ApiError} from './api.js';
import {h, clear, fmtNumber, fmtDate, fmtDateTime, errorBox, reloadHome} from './dom.js';
import {syncPanel} from './page_dashboard.js';
import {sharesCard} from './page_shares.js';

// ---- new releases ----

function releaseTile(artist) {
  const latest = (artist.releases || [])[0];
  const img = artist.image || (latest && latest.image);
  return h('li', {class: 'tile', dataset: {artistId: artist.id}},
    img ? h('img', {src: img, alt: '', loading: 'lazy', referrerpolicy: 'no-referrer', width: '300', height: '300'}) : h('div', {class: 'noimg'}),
    h('div', {class: 'body'}, h('strong', null, artist.name || artist.id),
      h('ul', {class: 'plain'}, (artist.releases || []).map((r) => h('li', {dataset: {releaseId: r.id}},
        h('a', {href: r.url, rel: 'noopener', target: '_blank'}, r.name), h('span', {class: 'muted'}, ` · ${r.type || ''} ${r.release_date || ''}`))))));
}

export async function releasesPage(ctx) {
  const list = h('div', {id: 'releases-list'});
  const scope = h('select', {id: 'releases-scope'}, h('option', {value: 'me'}, 'Artists I follow'), h('option', {value: 'global'}, 'Everyone on this server'));
  // The answer may be served from the browser's cache for 30 s; after a
  // refresh job it must not be, so load() can ask for a revalidation.
  const load = async (cache) => {
    const data = await api(`/api/artists/?scope=${scope.value}&limit=100&release_limit=5`, {signal: ctx.signal, cache});
    clear(list, data.artists.length === 0
      ? h('p', {class: 'muted'}, 'No new releases found yet. Press "Look for new releases" to check the artists you follow.')
      : h('ul', {class: 'tiles'}, data.artists.map(releaseTile)),
    h('p', {class: 'muted'}, `${fmtNumber(data.paging.total)} artists with recent releases`));
    list.dataset.total = data.paging.total;
  };
  const refresh = h('button', {type: 'button', id: 'releases-refresh'}, 'Look for new releases');
  const slot = h('div', {id: 'releases-progress'});
  refresh.addEventListener('click', async () => {
    refresh.disabled = true;
    const end = await runJob(slot, 'New releases progress', () => api('/api/releases/refresh', {method: 'POST', body: {}, signal: ctx.signal}), ctx.signal);
    refresh.disabled = false;
    if (end && end.state === 'done') await load('no-cache').catch((err) => clear(list, errorBox(err)));
  });
  scope.addEventListener('change', () => load().catch((err) => clear(list, errorBox(err))));
  ctx.root.append(h('h1', null, 'New releases'),
    h('div', {class: 'row'}, h('div', {class: 'field'}, h('label', {for: 'releases-scope'}, 'Show'), scope), refresh), slot, list);
  await load();
}

// ---- export and backups ----

// A file form; send(files, out) uploads and fills `out` with the answer.
function uploadForm({id, label, accept, multiple, button, send, extra}) {
  const input = h('input', {type: 'file', id, accept, multiple: multiple ? true : null});
  const out = h('div', {id: `${id}-result`, 'aria-live': 'polite'});
  const submit = h('button', {type: 'submit'}, button);
  const form = h('form', null, h('div', {class: 'field'}, h('label', {for: id}, label), input), extra || null,
    h('div', {class: 'row'}, submit), out);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (input.files.length === 0) { clear(out, errorBox(new Error('Choose a file first.'))); return; }
    submit.disabled = true;
    clear(out, h('p', {class: 'muted'}, 'Uploading…'));
    try {
      await send(input.files, out);
    } catch (err) {
      if (err.name !== 'AbortError') clear(out, errorBox(isMissingRoute(err) ? new Error('Not available on this keeptrack server yet.') : err));
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

// POST /api/restore takes the file as the raw body (options in the query),
// answers 202 {restore_id, job_id}; the report is GET /api/restore/{id}.
function restoreForm(ctx) {
  const dry = h('input', {type: 'checkbox', id: 'restore-dry', checked: true});
  const liked = h('input', {type: 'checkbox', id: 'restore-liked'});
  const extra = h('div', null, h('div', null, dry, h('label', {for: 'restore-dry'}, ' Dry run: only report what would change')),
    h('div', null, liked, h('label', {for: 'restore-liked'}, ' Also save Liked Songs again')));
  return uploadForm({id: 'restore-file', label: 'Export file (.json, .csv or .zip)', accept: '.json,.csv,.zip', button: 'Restore',
    extra, send: async (files, out) => {
      const f = files[0];
      const q = new URLSearchParams({name: f.name, dry_run: dry.checked, liked: liked.checked});
      const slot = h('div');
      clear(out, slot);
      const end = await runJob(slot, 'Restore progress', async () => {
        const r = await api(`/api/restore?${q}`, {method: 'POST', body: undefined, form: f, headers: {'Content-Type': 'application/octet-stream'}, signal: ctx.signal});
        out.dataset.restoreId = r.restore_id;
        return api(`/api/jobs/${r.job_id}`, {signal: ctx.signal});
      }, ctx.signal);
      if (end) {
        const report = await api(`/api/restore/${out.dataset.restoreId}`, {signal: ctx.signal});
        out.append(h('pre', {class: 'table-wrap', id: 'restore-report'}, JSON.stringify(report.report || report, null, 2)));
      }
    }});
}

export async function backupsPage(ctx) {
  const dl = (format, label) => h('a', {class: 'button', href: `/api/export?format=${format}`, download: '', id: `export-${format}`}, label);
  ctx.root.append(h('h1', null, 'Export & backups'), h('div', {class: 'grid'},
    h('section', {class: 'card', 'aria-labelledby': 'export-h'}, h('h2', {id: 'export-h'}, 'Download your data'),
      h('p', null, 'Everything keeptrack holds for you: Liked Songs, playlists with every kept version, saved albums, followed artists, top lists and plays.'),
      h('div', {class: 'row'}, dl('json', 'Download JSON'), dl('csv', 'Download CSV (zip, Exportify columns)'))),
    h('section', {class: 'card', 'aria-labelledby': 'restore-h'}, h('h2', {id: 'restore-h'}, 'Restore into Spotify'),
      h('p', null, 'Upload a keeptrack JSON export or Exportify CSV files. keeptrack first shows what would change (a dry run).'),
      restoreForm(ctx)),
    h('section', {class: 'card', 'aria-labelledby': 'history-h'}, h('h2', {id: 'history-h'}, 'Import listening history'),
      h('p', null, 'Upload Spotify\'s "extended streaming history" (the .zip or its .json files). Plays already known are skipped.'),
      uploadForm({id: 'history-file', label: 'History file(s)', accept: '.json,.zip', multiple: true, button: 'Import',
        send: async (files, out) => {
          const fd = new FormData();
          for (const f of files) fd.append('file', f, f.name);
          const r = await api('/api/history/import', {method: 'POST', form: fd, signal: ctx.signal});
          clear(out, h('p', {class: 'banner ok'}, `Imported ${fmtNumber(r.imported)} plays; ${fmtNumber(r.duplicates)} already known, ${fmtNumber(r.skipped)} skipped, ${fmtNumber(r.rejected)} rejected.`));
        }})),
    h('section', {class: 'card', 'aria-labelledby': 'backup-h'}, h('h2', {id: 'backup-h'}, 'Database backups'),
      h('p', null, 'This server also copies its whole database on a schedule and keeps the recent copies. To go back to one, ask the person who runs it.'))));
}

// ---- settings ----

function runsTable(runs) {
  return runs.items.length === 0 ? h('p', {class: 'muted'}, 'None yet.') :
    h('div', {class: 'table-wrap'}, h('table', {id: 'runs-table'},
      h('thead', null, h('tr', null, ['Started', 'Status', 'Added', 'Removed', 'Requests', 'Error'].map((t, i) => h('th', {scope: 'col', class: i >= 2 && i <= 4 ? 'num' : null}, t)))),
      h('tbody', null, runs.items.map((r) => h('tr', null, h('td', null, fmtDateTime(r.started_at)), h('td', null, r.status),
        h('td', {class: 'num'}, fmtNumber(r.added)), h('td', {class: 'num'}, fmtNumber(r.removed)),
        h('td', {class: 'num'}, fmtNumber(r.requests)), h('td', null, r.error || ''))))));
}

export async function settingsPage(ctx) {
  const runs = await api('/api/sync/runs?limit=10', {signal: ctx.signal});
  const runsSlot = h('div', {id: 'runs'}, runsTable(runs));
  // A sync started here adds a run: the table follows.
  const afterSync = () => api('/api/sync/runs?limit=10', {signal: ctx.signal})
    .then((now) => clear(runsSlot, runsTable(now)))
    .catch((err) => { if (err.name !== 'AbortError') clear(runsSlot, errorBox(err)); });
  const out = h('div', {id: 'settings-result', 'aria-live': 'polite'});
  const disconnect = h('button', {type: 'button', id: 'disconnect'}, 'Disconnect Spotify');
  const del = h('button', {type: 'button', class: 'danger', id: 'delete-data'}, 'Delete my data');
  disconnect.addEventListener('click', async () => {
    if (!confirm('Disconnect Spotify? keeptrack forgets its access to your account but keeps your copy.')) return;
    try {
      await api('/api/auth/disconnect', {method: 'POST'});
      clear(out, h('p', {class: 'banner ok'}, 'Disconnected. Your copy is kept; connect again to sync.'));
      await ctx.refreshMe();
    } catch (err) { clear(out, errorBox(err)); }
  });
  del.addEventListener('click', async () => {
    if (!confirm('Delete everything keeptrack holds about you? This cannot be undone.')) return;
    try {
      await api('/api/auth/disconnect?delete_data=true', {method: 'POST'});
      reloadHome();
    } catch (err) { clear(out, errorBox(err)); }
  });
  const me = ctx.me;
  const share = await sharesCard(ctx);
  ctx.root.append(h('h1', null, 'Settings'), h('div', {class: 'grid'},
    syncPanel(ctx, afterSync),
    h('section', {class: 'card', 'aria-labelledby': 'acct-h'}, h('h2', {id: 'acct-h'}, 'Spotify account'),
      h('dl', null, h('dt', null, 'Account'), h('dd', null, `${me.display_name || ''} (${me.spotify_id})`),
        h('dt', null, 'Status'), h('dd', {id: 'account-status'}, me.status),
        h('dt', null, 'Authorized'), h('dd', null, fmtDateTime(me.authorized_at)),
        h('dt', null, 'Spotify asks you to log in again by'), h('dd', null, `${fmtDate(me.refresh_token_expires_at)}${me.refresh_token_days_left !== null ? ` (${me.refresh_token_days_left} days)` : ''}`)),
      h('p', {class: 'muted'}, 'keeptrack also syncs by itself, on the schedule set by the person who runs this server; "Sync now" syncs at once.'),
      h('div', {class: 'row'}, disconnect, del), out),
    h('section', {class: 'card wide', 'aria-labelledby': 'runs-h'}, h('h2', {id: 'runs-h'}, 'Recent syncs'), runsSlot),
    share),
  h('p', {class: 'muted', id: 'admin-hint'}, 'Running this server? ', h('a', {href: '#/admin'}, 'Open the admin page'), '.'));
}

// ---- admin ----

// The admin token is kept in this module's memory only (never in storage):
// it is a secret, and reloading the page asks for it again.
let adminToken = null;

function adminTables(data) {
  const jobsCounts = Object.entries(data.jobs || {});
  return [
    h('section', {class: 'card wide', 'aria-labelledby': 'users-h'}, h('h2', {id: 'users-h'}, `Users (${data.users.length})`),
      h('div', {class: 'table-wrap'}, h('table', {id: 'admin-users'},
        h('thead', null, h('tr', null, ['Id', 'Name', 'Status', 'Authorized', 'Last sync', 'Result'].map((t) => h('th', {scope: 'col'}, t)))),
        h('tbody', null, data.users.map((u) => h('tr', {dataset: {userId: u.id}}, h('td', null, u.id), h('td', null, u.display_name || u.account_id),
          h('td', null, u.status), h('td', null, fmtDate(u.authorized_at)), h('td', null, fmtDateTime(u.last_sync_at)), h('td', null, u.last_sync_status || '–'))))))),
    h('section', {class: 'card', 'aria-labelledby': 'jobs-h'}, h('h2', {id: 'jobs-h'}, 'Jobs by state'),
      h('table', {id: 'admin-jobs'}, h('tbody', null, jobsCounts.map(([k, v]) => h('tr', {dataset: {state: k}}, h('th', {scope: 'row'}, k), h('td', {class: 'num'}, fmtNumber(v))))))),
    h('section', {class: 'card', 'aria-labelledby': 'fail-h'}, h('h2', {id: 'fail-h'}, 'Recent failures'),
      data.failures.length === 0 ? h('p', {class: 'muted', id: 'admin-no-failures'}, 'No failed jobs.') :
        h('ul', {class: 'plain', id: 'admin-failures'}, data.failures.map((j) => h('li', null,
          h('strong', null, `${j.kind} #${j.id}`), ` user ${j.user_id ?? '–'}, ${fmtDateTime(j.finished_at)}: `, j.error || j.message || '')))),
  ];
}

export async function adminPage(ctx) {
  const token = h('input', {type: 'password', id: 'admin-token', autocomplete: 'off', spellcheck: 'false'});
  const out = h('div', {id: 'admin-result'});
  const load = async () => {
    try {
      const data = await api('/api/admin/overview', {headers: {Authorization: `Bearer ${adminToken}`}, signal: ctx.signal});
      clear(out, h('div', {class: 'grid'}, adminTables(data)));
    } catch (err) {
      if (err.name === 'AbortError') return;
      if (err instanceof ApiError && err.status === 401) adminToken = null;
      clear(out, errorBox(err instanceof ApiError && err.status === 404
        ? new Error('The admin pages are off: the server has no KEEPTRACK_ADMIN_TOKEN.') : err));
    }
  };
  const form = h('form', {class: 'row'}, h('div', {class: 'field'}, h('label', {for: 'admin-token'}, 'Admin token'), token),
    h('button', {type: 'submit', class: 'primary'}, 'Show'));
  form.addEventListener('submit', (e) => { e.preventDefault(); adminToken = token.value; token.value = ''; load(); });
  ctx.root.append(h('h1', null, 'Admin'), h('p', {class: 'muted'}, 'For the person who runs this server: every user, the job queue and recent failures.'), form, out);
  if (adminToken) await load();
}

