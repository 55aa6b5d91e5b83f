// ui.test.mjs - keeptrack's web UI in headless Chromium (issue 10).
//
// One emulator user, one keeptrack, one browser profile; the cases run in
// order and build on each other like a person's first visit: connect
// through the emulator's consent redirect, sync with live progress,
// read the dashboard, search the library, compare and restore playlist
// versions, shuffle, download an export, look at the admin page, and
// finally delete the account. Expected numbers come from the API's JSON
// (page.request shares the browser's cookies) and from the emulator's
// ground truth, never from constants. Waiting is always on a condition
// (waitForSelector / waitForFunction / waitFor with a deadline).
// Screenshots (light, dark, phone) go to $KT_ARTIFACTS.

import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {startStack, stopStack, getJson, launchBrowser, waitFor, tempDir, gotoPage, followProgress as followPage, ADMIN_TOKEN} from './harness.mjs';

const USER = 'alice';
const artifacts = process.env.KT_ARTIFACTS || tempDir('kt-browser-artifacts-');
const work = tempDir('kt-browser-');
let emu, kt, ctx, page;
const consoleErrors = [];

const apiJson = (p) => getJson(page, kt.baseUrl + p);

async function shot(name, target = page) {
  await target.screenshot({path: path.join(artifacts, `${name}.png`), fullPage: true});
}

const go = (hash) => gotoPage(page, hash);
const followProgress = (selector) => followPage(page, selector);

before(async () => {
  fs.mkdirSync(artifacts, {recursive: true});
  ({emu, kt, ctx, page} = await startStack(work, `${USER}:liked=60,playlists=3,playlist_items=5-20,followed=10,plays=120,albums=5`));
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
});

after(() => stopStack({emu, kt, ctx}));

test('a logged-out visitor sees Connect Spotify; assets are cached, CSP is strict', async () => {
  const resp = await page.goto(kt.baseUrl + '/');
  assert.equal(resp.status(), 200);
  const csp = resp.headers()['content-security-policy'];
  assert.match(csp, /script-src 'self';/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.equal(resp.headers()['cache-control'], 'no-cache');
  await page.waitForSelector('#connect:not([hidden])');
  assert.equal(await page.textContent('#connect-button'), 'Connect Spotify');
  assert.equal(await page.isHidden('#nav'), true);

  // Versioned assets: immutable, strong ETag, 304 on revalidation.
  const js = await page.evaluate(() => document.querySelector('script[type=module]').src);
  const r1 = await page.request.get(js);
  assert.equal(r1.status(), 200);
  assert.equal(r1.headers()['cache-control'], 'public, max-age=31536000, immutable');
  assert.match(r1.headers()['content-type'], /^text\/javascript/);
  const etag = r1.headers().etag;
  assert.match(etag, /^"[0-9a-f]{32}"$/);
  const r2 = await page.request.get(js, {headers: {'If-None-Match': etag}});
  assert.equal(r2.status(), 304);
  // Only names in the embedded table exist: no traversal, no other files.
  for (const p of ['/ui/x/../../etc/passwd', '/ui/x/%2e%2e%2fmeson.build', '/ui/x/nope.js', '/ui/app.js']) {
    const r = await page.request.get(kt.baseUrl + p);
    assert.ok([400, 404].includes(r.status()), `${p} -> ${r.status()}`);
  }
  await shot('01-connect');
});

test('log in through the emulator consent redirect', async () => {
  await Promise.all([page.waitForURL(`${kt.baseUrl}/`), page.click('#connect-button')]);
  await page.waitForSelector('body[data-state="logged-in"]');
  await page.waitForSelector('.page[data-page="dashboard"][data-ready="true"]');
  const truth = await emu.truth(USER);
  assert.equal(await page.textContent('#who-name'), truth.profile.display_name);
  assert.equal(await page.getAttribute('#nav a[data-route="dashboard"]', 'aria-current'), 'page');
  assert.equal(await page.$('[data-banner]'), null, 'no re-login banner for a fresh login');
});

test('sync now shows live progress to the end; counts equal the emulator', async () => {
  await page.click('#sync-now');
  const seen = await followProgress('#sync-progress');
  assert.ok(seen.has('done'), `states seen: ${[...seen]}`);
  assert.equal(await page.getAttribute('#sync-progress [role=progressbar]', 'aria-valuenow'), '100');
  // The dashboard reloads its numbers from the synced copy.
  await page.waitForSelector('.page[data-generation="2"]');
  const truth = await emu.truth(USER);
  const count = async (k) => Number(await page.getAttribute(`#counts [data-count="${k}"]`, 'data-value'));
  assert.equal(await count('liked'), truth.liked.length);
  assert.equal(await count('playlists'), truth.playlists.length);
  assert.equal(await count('albums'), truth.albums.length);
  assert.equal(await count('following'), truth.followed_artists.length);
  assert.equal(await count('plays'), (await apiJson('/api/plays?limit=1')).total);
  assert.equal(await page.textContent('#counts [data-count="liked"] .value'), String(truth.liked.length));
  // The sync card says what the next sync costs the user's quota (issue 20).
  const est = await apiJson('/api/sync/estimate');
  await page.waitForSelector(`#sync-estimate[data-requests="${est.requests}"]`);
  assert.match(await page.textContent('#sync-estimate'), new RegExp(`about ${est.requests} requests`));
});

test('every dashboard chart shows the API numbers', async () => {
  // A tracker point for today (what the scheduler's daily job records).
  const tr = await page.request.post(`${kt.baseUrl}/api/admin/trackers/update`, {headers: {Authorization: `Bearer ${ADMIN_TOKEN}`}});
  const hasStats = tr.status() !== 404;
  await go('#/library'); // and back, to render with the new point
  await go('#/dashboard');
  if (!hasStats) {
    await page.waitForSelector('#stats-missing');
    assert.fail('GET /api/stats/aggregate is not served: the dashboard charts cannot be checked');
  }
  const agg = await apiJson('/api/stats/aggregate');
  const bars = (chart) => page.$$eval(`[data-chart="${chart}"] .bar-item`, (els) => els.map((e) => [e.dataset.label, Number(e.dataset.value)]));
  assert.deepEqual(await bars('top-artists'), agg.library.top_artists.map((a) => [a.name, a.tracks]));
  assert.ok(agg.library.top_artists.length > 0);
  assert.deepEqual(await bars('decades'), agg.library.decades.map((d) => [typeof d.decade === 'number' ? `${d.decade}s` : String(d.decade), d.tracks]));
  if (agg.library.genres.available === false) {
    assert.match(await page.textContent('[data-chart="genres"]'), /Not available/);
  } else {
    assert.deepEqual(await bars('genres'), agg.library.genres.items.slice(0, 10).map((g) => [g.genre, g.tracks]));
  }
  // Tracker: one circle per day and series, with the API's values.
  const points = agg.trackers.points;
  assert.ok(points.length >= 1, 'a tracker point was recorded');
  const liked = await page.$$eval('[data-chart="tracker"] [data-series="Liked Songs"] circle', (els) => els.map((e) => [e.dataset.x, Number(e.dataset.y)]));
  assert.deepEqual(liked, points.map((p) => [p.day, p.liked]));
  // Heatmap: every non-empty cell of the API's grid, and nothing else.
  const cells = await page.$$eval('[data-chart="heatmap"] rect.cell', (els) => els.filter((e) => Number(e.dataset.value) > 0)
    .map((e) => [Number(e.dataset.weekday), Number(e.dataset.hour), Number(e.dataset.value)]));
  const expected = [];
  agg.listening.weekday_hour.plays.forEach((row, d) => row.forEach((v, hr) => { if (v) expected.push([d, hr, v]); }));
  assert.deepEqual(cells, expected);
  assert.ok(expected.length > 0, 'the emulator\'s recent plays fill the heatmap');
  // Top-track movement for each range: a row per change, or the empty note.
  for (const range of ['short_term', 'medium_term', 'long_term']) {
    await page.selectOption('#movement-range', range);
    const mv = agg.top_movement[range];
    const rows = await page.$$eval('#movement-body tr[data-move]', (els) => els.length);
    const changes = mv ? (mv.new || []).length + (mv.climbers || []).length + (mv.fallers || []).length + (mv.dropped || []).length : 0;
    assert.equal(rows, Math.min(10, changes), range);
  }
  await shot('02-dashboard');
});

test('library: search and sort Liked Songs as the API does', async () => {
  await go('#/library');
  const total = async () => Number(await page.getAttribute('#liked-results', 'data-total'));
  assert.equal(await total(), (await apiJson('/api/library/tracks?limit=1')).total);
  const first = (await apiJson('/api/library/tracks?limit=1&sort=artist&order=asc')).items[0].track.artists[0].name;
  await page.fill('#liked-q', first);
  await page.waitForFunction((q) => document.querySelector('#liked-results').dataset.query.includes(`q=${encodeURIComponent(q).replace(/%20/g, '+')}`), first);
  const want = await apiJson(`/api/library/tracks?limit=50&q=${encodeURIComponent(first)}`);
  assert.equal(await total(), want.total);
  assert.deepEqual(await page.$$eval('#tracks-table tbody tr', (els) => els.map((e) => e.dataset.uri)), want.items.map((e) => e.track.uri));
  await page.fill('#liked-q', '');
  await page.selectOption('#liked-sort', 'name');
  await page.selectOption('#liked-order', 'desc');
  await page.waitForFunction(() => /sort=name.*order=desc/.test(document.querySelector('#liked-results').dataset.query) && !/q=/.test(document.querySelector('#liked-results').dataset.query));
  const byName = await apiJson('/api/library/tracks?limit=50&sort=name&order=desc');
  assert.deepEqual(await page.$$eval('#tracks-table tbody tr', (els) => els.map((e) => e.dataset.uri)), byName.items.map((e) => e.track.uri));
  await shot('03-library');
});

test('playlist versions: diff and restore an earlier version', async () => {
  const me = await apiJson('/api/me');
  const pls = await apiJson('/api/playlists?limit=500');
  const pl = pls.items.find((p) => p.owner.id === me.spotify_id && p.items_synced);
  assert.ok(pl, 'an owned playlist with its items kept');
  const before = await apiJson(`/api/playlists/${pl.id}?limit=500`);
  const victim = before.items.items[0].item.uri;
  const liked = await apiJson('/api/library/tracks?limit=1');
  await emu.mutate(USER, {op: 'playlist_remove', playlist: pl.id, uris: [victim]});
  await emu.mutate(USER, {op: 'playlist_add', playlist: pl.id, uris: [liked.items[0].track.uri], position: 0});
  await go('#/settings');
  await page.click('#sync-now');
  assert.ok((await followProgress('#sync-progress')).has('done'));
  await page.goto(`${kt.baseUrl}/#/playlist/${pl.id}`);
  await page.waitForSelector('.page[data-page="playlist"][data-ready="true"]');
  const versions = await apiJson(`/api/playlists/${pl.id}/versions`);
  assert.equal(versions.items.length, 2);
  assert.deepEqual(await page.$$eval('#versions-list li', (els) => els.map((e) => e.dataset.snapshot)), versions.items.map((v) => v.snapshot_id));
  await page.waitForSelector('#diff-result[data-from]');
  const diff = await apiJson(`/api/playlists/${pl.id}/diff?from=${encodeURIComponent(versions.items[1].snapshot_id)}&to=${encodeURIComponent(versions.items[0].snapshot_id)}`);
  const listed = (kind) => page.$$eval(`[data-diff="${kind}"] li`, (els) => els.map((e) => e.dataset.uri));
  assert.deepEqual(await listed('added'), diff.added.map((e) => e.uri));
  assert.deepEqual(await listed('removed'), diff.removed.map((e) => e.uri));
  assert.ok(diff.removed.some((e) => e.uri === victim));
  await shot('04-playlist-versions');

  page.once('dialog', (d) => d.accept());
  await page.click('#restore-in-place');
  await waitFor(async () => (await page.$('#restore-progress .progress[data-state="done"], #restore-progress .banner.error')), 'the restore to end', 60000);
  const err = await page.$('#restore-progress .banner.error');
  assert.equal(err ? await err.textContent() : null, null, 'restore answered an error');
  assert.match(await page.textContent('#restore-next'), /next sync/, 'the page says when its copy follows');
  const truth = await emu.truth(USER);
  const now = truth.playlists.find((p) => p.id === pl.id);
  const uris = (now.items || now.tracks.items || []).map((e) => (e.item || e.track || {}).uri);
  assert.deepEqual(uris, before.items.items.map((e) => e.item.uri), 'the earlier version is back on Spotify');
});

test('shuffle Liked Songs with live progress; the emulator holds every track', async () => {
  await go('#/shuffle');
  await page.selectOption('#shuffle-source', 'liked');
  await page.check('#mode-uniform');
  await page.click('#shuffle-go');
  const seen = await followProgress('#shuffle-progress');
  assert.ok(seen.has('done'), `states: ${[...seen]}`);
  const link = await page.waitForSelector('#shuffle-result [data-playlist-id]');
  const id = await link.getAttribute('data-playlist-id');
  assert.equal(await page.getAttribute('#shuffle-link', 'href'), `https://open.spotify.com/playlist/${id}`);
  const truth = await emu.truth(USER);
  const made = truth.playlists.find((p) => p.id === id);
  assert.ok(made, 'the shuffled playlist exists on the emulator');
  const items = (made.items || made.tracks.items).map((e) => (e.item || e.track).uri).sort();
  const liked = truth.liked.map((e) => e.track.uri).filter((u) => !u.startsWith('spotify:local:')).sort();
  assert.deepEqual(items, liked);
  assert.equal(Number(await link.getAttribute('data-tracks')), liked.length);
  await shot('05-shuffle');

  page.once('dialog', (d) => d.accept());
  await page.click('#shuffle-delete-all');
  await page.waitForSelector('#shuffle-delete-result[data-deleted]');
  assert.equal(await page.getAttribute('#shuffle-delete-result', 'data-deleted'), '1');
  const after = await emu.truth(USER);
  assert.equal(after.playlists.find((p) => p.id === id), undefined, 'unfollowed on the emulator');
});

test('download the JSON export', async () => {
  await go('#/backups');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-json')]);
  const file = path.join(artifacts, 'export.json');
  await download.saveAs(file);
  const data = JSON.parse(fs.readFileSync(file, 'utf8'));
  const truth = await emu.truth(USER);
  assert.equal(data.liked_songs.length, truth.liked.length);
  await shot('06-backups');
});

test('new releases and the admin page', async () => {
  await go('#/releases');
  const api = await apiJson('/api/artists/?scope=me&limit=100&release_limit=5');
  assert.equal(Number(await page.getAttribute('#releases-list', 'data-total')), api.paging.total);
  await go('#/admin');
  await page.fill('#admin-token', ADMIN_TOKEN);
  await page.press('#admin-token', 'Enter');
  await page.waitForSelector('#admin-users tbody tr');
  const rows = await page.$$eval('#admin-users tbody tr', (els) => els.map((e) => e.dataset.userId));
  const me = await apiJson('/api/me');
  assert.deepEqual(rows, [String(me.id)]);
  assert.equal(await page.inputValue('#admin-token'), '', 'the token does not stay in the field');
  await shot('07-admin');
});

test('keyboard and screen readers: labels, skip link, live progress', async () => {
  await go('#/shuffle');
  const unlabeled = await page.$$eval('input, select, button', (els) => els.filter((e) => {
    if (e.type === 'hidden') return false;
    if (e.tagName === 'BUTTON') return !e.textContent.trim() && !e.getAttribute('aria-label');
    return !(e.labels && e.labels.length) && !e.getAttribute('aria-label');
  }).map((e) => e.outerHTML));
  assert.deepEqual(unlabeled, []);
  await page.reload();
  await page.waitForSelector('.page[data-page="shuffle"][data-ready="true"]');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'skip-link');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'main');
  assert.equal(await page.getAttribute('#live', 'aria-live'), 'polite');
});

test('dark mode and a phone-sized screen', async () => {
  const dark = await launchBrowser(work, {colorScheme: 'dark', viewport: {width: 390, height: 844}, isMobile: true});
  try {
    await dark.addCookies((await ctx.cookies()).map((c) => ({...c})));
    const p = dark.pages()[0] || await dark.newPage();
    await p.goto(`${kt.baseUrl}/#/dashboard`);
    await p.waitForSelector('.page[data-page="dashboard"][data-ready="true"]');
    const bg = await p.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const [r, g, b] = bg.match(/\d+/g).map(Number);
    assert.ok(r + g + b < 150, `dark background, got ${bg}`);
    const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no sideways scrolling on a phone (overflow ${overflow}px)`);
    await p.screenshot({path: path.join(artifacts, '08-phone-dark-dashboard.png'), fullPage: true});
    await p.goto(`${kt.baseUrl}/#/library`);
    await p.waitForSelector('.page[data-page="library"][data-ready="true"]');
    assert.ok(await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth) <= 0);
    await p.screenshot({path: path.join(artifacts, '09-phone-dark-library.png'), fullPage: true});
  } finally {
    await dark.close();
  }
});

test('log out from any page ends at the connect page; logging in again returns', async () => {
  await go('#/library');
  await Promise.all([page.waitForEvent('load'), page.click('#logout')]);
  await page.waitForSelector('body[data-state="logged-out"] #connect:not([hidden])');
  assert.equal(page.url(), `${kt.baseUrl}/`);
  const r = await page.request.get(`${kt.baseUrl}/api/session`);
  assert.deepEqual(await r.json(), {user: null});
  await Promise.all([page.waitForURL(`${kt.baseUrl}/`), page.click('#connect-button')]);
  await page.waitForSelector('.page[data-page="dashboard"][data-ready="true"]');
  assert.equal(await page.textContent('#who-name'), (await emu.truth(USER)).profile.display_name);
});

test('settings: delete my data ends at the connect page', async () => {
  await go('#/settings');
  await shot('10-settings');
  page.once('dialog', (d) => d.accept());
  await Promise.all([page.waitForEvent('load'), page.click('#delete-data')]);
  await page.waitForSelector('body[data-state="logged-out"]');
  const r = await page.request.get(`${kt.baseUrl}/api/me`, {headers: {Accept: 'application/json'}});
  assert.equal(r.status(), 401);
  // None expected: the logged-out page asks GET /api/session (200), not
  // /api/me (a 401, which Chromium logs). Covers come from the emulator, so
  // none fails.
  assert.deepEqual(consoleErrors, []);
});
