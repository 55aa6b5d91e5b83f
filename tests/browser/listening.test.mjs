// listening.test.mjs - the listening dashboard and its drill-down pages
// (issue 19) in headless Chromium, at 1280×800 and 390×844 (dark).
//
// keeptrack syncs an emulator user (50 polled plays) and imports an export
// that replays the user's liked tracks over six earlier weeks. Every figure
// the pages show is compared with what this file computes from the
// emulator's ground truth and the export it wrote: never with the API's own
// answer. Waiting is on conditions only. Screenshots go to $KT_ARTIFACTS
// (listening-*.png).

import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {startEmulator, startKeeptrack, launchBrowser, tempDir} from './harness.mjs';

const USER = 'alice';
const DAY = 86400000;
const artifacts = process.env.KT_ARTIFACTS || tempDir('kt-browser-artifacts-');
const work = tempDir('kt-browser-listening-');
let emu, kt, ctx, page, truth;
let plays = []; // {at, uri, ms, name, artist, artist_id, album}
const consoleErrors = [];

// A hash route of the single-page app, once its page has rendered (app.js sets data-ready).
async function gotoPage(p, hash) {
  await p.evaluate((x) => { location.hash = x; }, hash);
  await p.waitForSelector(`.page[data-ready="true"][data-page="${hash.split('/')[1]}"]`);
}
const shot = (name, p = page) => p.screenshot({path: path.join(artifacts, `${name}.png`), fullPage: true});
const bytes = (a, b) => Buffer.compare(Buffer.from(a || ''), Buffer.from(b || ''));
const minutes = (ms) => Math.round(ms / 60000);

// A small seeded PRNG (mulberry32), so the export is the same every run.
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function row(at, t, ms) {
  return {at, uri: t.uri, ms, name: t.name, artist: t.artists[0].name, artist_id: t.artists[0].id, album: t.album.name};
}

const inRange = (lo, hi) => plays.filter((p) => p.at >= lo && p.at < hi);

// Top `limit` by plays (ties: time, then bytes of the key) or by time.
function tops(sel, key, byTime, limit = 10) {
  const m = new Map();
  for (const p of sel) {
    const e = m.get(key(p)) || {key: key(p), plays: 0, ms: 0, sample: p};
    e.plays += 1;
    e.ms += p.ms;
    m.set(key(p), e);
  }
  const order = [...m.values()].sort((a, b) => (byTime ? b.ms - a.ms || b.plays - a.plays : b.plays - a.plays || b.ms - a.ms) || bytes(a.key, b.key));
  return order.slice(0, limit);
}

before(async () => {
  fs.mkdirSync(artifacts, {recursive: true});
  emu = await startEmulator(['--redirect-uri', 'any-loopback', '--user',
    `${USER}:liked=60,playlists=4,playlist_items=5-25,followed=5,plays=50,albums=2`], work);
  kt = await startKeeptrack(emu, work);
  ctx = await launchBrowser(work, {viewport: {width: 1280, height: 800}});
  page = ctx.pages()[0] || await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(`${m.text()} (${m.location().url})`); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
});

after(async () => {
  if (ctx) await ctx.close();
  const ktCode = kt ? await kt.stop() : 0;
  const emuCode = emu ? await emu.stop() : 0;
  assert.equal(ktCode, 0, `keeptrack exited with ${ktCode}; see ${kt && kt.logPath}`);
  assert.equal(emuCode, 0, `the emulator exited with ${emuCode}`);
});

test('log in, sync, import six weeks of history', async () => {
  await page.goto(kt.baseUrl + '/');
  await Promise.all([page.waitForURL(`${kt.baseUrl}/`), page.click('#connect-button')]);
  await page.waitForSelector('.page[data-page="dashboard"][data-ready="true"]');
  await page.click('#sync-now');
  await page.waitForSelector('#sync-progress .progress[data-state="done"]', {timeout: 60000});
  truth = await emu.truth(USER);
  plays = truth.recently_played.map((p) => row(Date.parse(p.played_at), p.track, p.track.duration_ms));
  const rand = rng(19);
  const liked = truth.liked.map((e) => e.track);
  const end = Math.floor(Math.min(...plays.map((p) => p.at)) / DAY) * DAY;
  const taken = new Set(plays.map((p) => p.at));
  const recs = [];
  for (let i = 0; i < 300; i++) {
    const at = end - Math.floor(rand() * 42 * 86400) * 1000 - 1000;
    const t = liked[Math.min(Math.floor(-Math.log(1 - rand()) / 0.15), liked.length - 1)];
    const ms = 30000 + Math.floor(rand() * 210000);
    if (taken.has(at)) continue;
    taken.add(at);
    plays.push(row(at, t, ms));
    recs.push({ts: new Date(at).toISOString().replace('.000Z', 'Z'), ms_played: ms, spotify_track_uri: t.uri,
      master_metadata_track_name: t.name, master_metadata_album_artist_name: t.artists[0].name,
      master_metadata_album_album_name: t.album.name});
  }
  const r = await page.request.post(`${kt.baseUrl}/api/history/import?name=Streaming_History_Audio_2025_0.json`,
    {headers: {'Content-Type': 'application/json', Origin: kt.baseUrl}, data: JSON.stringify(recs)});
  assert.equal(r.status(), 200, await r.text());
  assert.equal((await r.json()).imported, recs.length);
});

// The last 30 UTC days up to the end of today, as the page's default period.
function monthRange() {
  const to = (Math.floor(Date.now() / DAY) + 1) * DAY;
  return [to - 30 * DAY, to];
}

async function tileValue(p, key) {
  return Number(await p.getAttribute(`#listening-summary [data-count="${key}"]`, 'data-value'));
}

async function topsRows(p, kind) {
  return p.$$eval(`#tops-${kind} tbody tr`, (els) => els.map((e) => ({name: e.dataset.name, id: e.dataset.id,
    plays: Number(e.dataset.plays), ms: Number(e.dataset.ms), share: Number(e.dataset.share)})));
}

test('listening page: totals, the chart and the tops equal the truth', async () => {
  await gotoPage(page, '#/listening');
  assert.equal(await page.getAttribute('#nav a[data-route="listening"]', 'aria-current'), 'page');
  const [lo, hi] = monthRange();
  const sel = inRange(lo, hi);
  assert.ok(sel.length > 50, 'the default period holds the polled and some imported plays');
  assert.equal(await tileValue(page, 'plays'), sel.length);
  assert.equal(await tileValue(page, 'ms'), sel.reduce((a, p) => a + p.ms, 0));
  assert.equal(await tileValue(page, 'tracks'), new Set(sel.map((p) => p.uri)).size);
  // One point per UTC day: whole minutes of listening; the previous 30 days beside them.
  const points = await page.$$eval('[data-chart="listening-series"] [data-series="Minutes in this period"] circle',
    (els) => els.map((e) => [e.dataset.x, Number(e.dataset.y)]));
  const want = [];
  for (let d = lo; d < hi; d += DAY) want.push([new Date(d).toISOString().slice(5, 10), minutes(inRange(d, d + DAY).reduce((a, p) => a + p.ms, 0))]);
  assert.deepEqual(points, want);
  const before = await page.$$eval('[data-chart="listening-series"] [data-series="Minutes in the previous period"] circle',
    (els) => els.map((e) => Number(e.dataset.y)));
  const wantBefore = [];
  for (let d = lo - 30 * DAY; d < lo; d += DAY) wantBefore.push(minutes(inRange(d, d + DAY).reduce((a, p) => a + p.ms, 0)));
  assert.deepEqual(before, wantBefore);
  // Text alternative: the svg is an image with a label, the numbers are in a table.
  assert.match(await page.getAttribute('[data-chart="listening-series"] svg', 'role'), /img/);
  assert.ok((await page.getAttribute('[data-chart="listening-series"] svg', 'aria-label')).length > 20);
  assert.equal(await page.$$eval('[data-chart="listening-series"] details tbody tr', (els) => els.length), 30);
  // Tops by plays, then by time, with the share of the period's plays / time.
  const total = sel.length, totalMs = sel.reduce((a, p) => a + p.ms, 0);
  const keys = {tracks: (p) => p.uri, artists: (p) => p.artist, albums: (p) => p.album};
  for (const kind of ['tracks', 'artists', 'albums']) {
    for (const by of ['plays', 'time']) {
      if (by === 'time') {
        await page.selectOption(`#tops-by-${kind}`, 'time');
        await page.waitForSelector(`#tops-${kind}[data-ready="true"] table[data-by="time"]`);
      }
      const got = await topsRows(page, kind);
      const exp = tops(sel, keys[kind], by === 'time');
      assert.deepEqual(got.map((r) => [r.plays, r.ms]), exp.map((e) => [e.plays, e.ms]), `${kind} by ${by}`);
      assert.deepEqual(got.map((r) => r.name), exp.map((e) => (kind === 'tracks' ? e.sample.name : kind === 'artists' ? e.sample.artist : e.sample.album)));
      got.forEach((r, i) => assert.ok(Math.abs(r.share - (by === 'time' ? exp[i].ms / totalMs : exp[i].plays / total)) < 1e-9));
    }
  }
  await shot('listening-01-month');
});

test('another period and bucket; the address keeps the choice', async () => {
  await page.selectOption('#period', 'all');
  await page.waitForFunction(() => location.hash === '#/listening/all');
  await page.waitForSelector('.page[data-page="listening"][data-ready="true"]');
  await page.selectOption('#bucket', 'week');
  await page.waitForSelector('[data-chart="listening-series"] [data-series="Minutes in this period"] circle');
  await page.waitForFunction(() => document.querySelector('.page').dataset.ready === 'true');
  assert.equal(await tileValue(page, 'plays'), plays.length);
  // Weeks start on Monday (UTC); the first holds the first play.
  const first = Math.floor(Math.min(...plays.map((p) => p.at)) / DAY) * DAY;
  const to = (Math.floor(Date.now() / DAY) + 1) * DAY;
  const monday = first - ((((first / DAY - 4) % 7) + 7) % 7) * DAY;
  const weeks = [];
  for (let w = monday; w < to; w += 7 * DAY) weeks.push(inRange(Math.max(w, first), Math.min(w + 7 * DAY, to)));
  // labels are MM-DD: the caption holds the years
  const want = weeks.map((sel, i) => [new Date(monday + i * 7 * DAY).toISOString().slice(5, 10), minutes(sel.reduce((a, p) => a + p.ms, 0))]);
  const points = await page.$$eval('[data-chart="listening-series"] circle', (els) => els.map((e) => [e.dataset.x, Number(e.dataset.y)]));
  assert.deepEqual(points, want);
  assert.equal(await page.$('[data-series="Minutes in the previous period"]'), null, 'no previous period for all time');
  // Plays instead of minutes: the same buckets.
  await page.selectOption('#metric', 'plays');
  await page.waitForSelector('[data-chart="listening-series"][data-metric="plays"]');
  const counts = await page.$$eval('[data-chart="listening-series"] circle', (els) => els.map((e) => Number(e.dataset.y)));
  assert.deepEqual(counts, weeks.map((sel) => sel.length));
  // Keyboard: the period control is reachable and keeps focus when used.
  await page.focus('#period');
  await page.keyboard.press('ArrowUp'); // "Year"
  await page.waitForFunction(() => location.hash === '#/listening/year');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'period');
  await page.reload();
  await page.waitForSelector('.page[data-page="listening"][data-ready="true"]');
  assert.equal(await page.inputValue('#period'), 'year');
  await shot('listening-02-year');
});

test('a custom range (both days included) and the last 24 hours by hour', async () => {
  await gotoPage(page, '#/listening/month');
  const last = Math.max(...plays.map((p) => p.at));
  const toDay = Math.floor(last / DAY) * DAY, fromDay = toDay - 9 * DAY;
  const iso = (ms) => new Date(ms).toISOString().slice(0, 10);
  await page.selectOption('#period', 'custom');
  assert.equal(await page.isVisible('#custom-range'), true);
  await page.fill('#from', iso(fromDay));
  await page.fill('#to', iso(toDay));
  await page.click('#apply-range');
  await page.waitForFunction((h) => location.hash === h, `#/listening/custom/${iso(fromDay)}/${iso(toDay)}`);
  await page.waitForSelector('.page[data-page="listening"][data-ready="true"]');
  const sel = inRange(fromDay, toDay + DAY);
  assert.equal(await tileValue(page, 'plays'), sel.length);
  assert.equal(await page.$$eval('[data-chart="listening-series"] [data-series="Minutes in this period"] circle', (els) => els.length), 10);
  assert.deepEqual((await topsRows(page, 'artists')).map((r) => [r.name, r.plays]),
    tops(sel, (p) => p.artist, false).map((e) => [e.sample.artist, e.plays]));
  // The last 24 UTC hours up to the end of today, one point per hour.
  await page.selectOption('#period', 'day');
  await page.waitForFunction(() => location.hash === '#/listening/day');
  await page.waitForFunction(() => document.querySelector('.page').dataset.ready === 'true' &&
    document.querySelectorAll('[data-chart="listening-series"] [data-series="Minutes in this period"] circle').length === 24);
  const end = (Math.floor(Date.now() / DAY) + 1) * DAY;
  assert.equal(await tileValue(page, 'plays'), inRange(end - DAY, end).length);
  const hours = await page.$$eval('[data-chart="listening-series"] [data-series="Plays in this period"] circle, [data-chart="listening-series"] [data-series="Minutes in this period"] circle', (els) => els.map((e) => e.dataset.x));
  assert.deepEqual(hours, Array.from({length: 24}, (_, i) => `${String(i).padStart(2, '0')}:00`));
});

test('drill-down pages: plays, first and last listen, playlists and Liked Songs', async () => {
  await gotoPage(page, '#/listening/all');
  const top = tops(plays, (p) => p.artist, false)[0];
  await page.click(`#tops-artists tbody tr[data-rank="1"] a`);
  await page.waitForSelector('.page[data-page="item"][data-ready="true"]');
  const id = top.sample.artist_id;
  assert.equal(await page.evaluate(() => location.hash), `#/item/artist/${id}`);
  assert.equal(await page.textContent('#item-name'), top.sample.artist);
  const mine = plays.filter((p) => p.artist_id === id).sort((a, b) => a.at - b.at);
  const tile = (k) => page.getAttribute(`#item-summary [data-count="${k}"]`, 'data-value');
  assert.equal(Number(await tile('plays')), mine.length);
  assert.equal(Number(await tile('ms')), mine.reduce((a, p) => a + p.ms, 0));
  assert.equal((await tile('first')).slice(0, 19), new Date(mine[0].at).toISOString().slice(0, 19));
  assert.equal((await tile('last')).slice(0, 19), new Date(mine[mine.length - 1].at).toISOString().slice(0, 19));
  const perDay = await page.$$eval('[data-chart="item-plays"] circle', (els) => els.map((e) => [e.dataset.x, Number(e.dataset.y)]).filter(([, y]) => y > 0));
  const days = new Map();
  for (const p of mine) { const d = new Date(Math.floor(p.at / DAY) * DAY).toISOString().slice(5, 10); days.set(d, (days.get(d) || 0) + 1); }
  assert.deepEqual(perDay, [...days.entries()]);
  // Playlists (positions 0-based in data-positions) and Liked Songs, from the truth.
  const byArtist = (t) => t && t.type === 'track' && t.artists.some((a) => a.id === id);
  const lists = truth.playlists.filter((pl) => pl.items).map((pl) => [pl.id, pl.items.map((it, i) => (byArtist(it.item || it.track) ? i : -1)).filter((i) => i >= 0).join(',')]).filter(([, pos]) => pos);
  const shown = await page.$$eval('#item-playlists tbody tr', (els) => els.map((e) => [e.dataset.playlist, e.dataset.positions]));
  assert.deepEqual(shown, lists);
  const liked = truth.liked.map((e, i) => (byArtist(e.track) ? i : -1)).filter((i) => i >= 0);
  assert.deepEqual(await page.$$eval('#item-liked tbody tr', (els) => els.map((e) => Number(e.dataset.position))), liked);
  // Ranks: the snapshot the sync stored today, from the truth's top artists.
  const today = new Date().toISOString().slice(0, 10);
  for (const range of ['short_term', 'medium_term', 'long_term']) {
    const i = truth.top[range].artists.findIndex((a) => a.id === id);
    const shownRank = await page.getAttribute(`#rank-history tr[data-day="${today}"] td[data-range="${range}"]`, 'data-rank').catch(() => null);
    assert.equal(shownRank || '', i < 0 ? '' : String(i + 1), range);
  }
  await shot('listening-03-artist');
  // From a track of the list to the track's page and its album.
  await gotoPage(page, '#/listening/all');
  const track = tops(plays, (p) => p.uri, false)[0];
  await page.click('#tops-tracks tbody tr[data-rank="1"] a');
  await page.waitForSelector('.page[data-page="item"][data-ready="true"]');
  assert.equal(await page.textContent('#item-name'), track.sample.name);
  assert.equal(Number(await tile('plays')), plays.filter((p) => p.uri === track.key).length);
  await page.click('#item-by a[href^="#/item/album/"]');
  await page.waitForFunction(() => location.hash.startsWith('#/item/album/') && document.querySelector('.page').dataset.ready === 'true');
  assert.equal(await page.textContent('#item-name'), track.sample.album);
});

test('dashboard: Liked Songs over time from the first sync, by month liked', async () => {
  await gotoPage(page, '#/dashboard');
  const perMonth = new Map();
  for (const e of truth.liked) perMonth.set(e.added_at.slice(0, 7), (perMonth.get(e.added_at.slice(0, 7)) || 0) + 1);
  const months = [...perMonth.keys()].sort();
  const want = [];
  let [y, m] = months[0].split('-').map(Number);
  const end = new Date().toISOString().slice(0, 7);
  for (let n = 0; ; [y, m] = m === 12 ? [y + 1, 1] : [y, m + 1]) {
    const key = `${y}-${String(m).padStart(2, '0')}`;
    n += perMonth.get(key) || 0;
    want.push([key, n]);
    if (key >= end) break;
  }
  const got = await page.$$eval('[data-chart="library-growth"] circle', (els) => els.map((e) => [e.dataset.x, Number(e.dataset.y)]));
  assert.deepEqual(got, want);
  assert.equal(want[want.length - 1][1], truth.liked.length);
  assert.doesNotMatch(await page.textContent('#charts'), /No tracker points yet/);
  await shot('listening-06-dashboard-growth');
});

test('phone-sized and dark: nothing scrolls sideways', async () => {
  const dark = await launchBrowser(work, {colorScheme: 'dark', viewport: {width: 390, height: 844}, isMobile: true});
  try {
    await dark.addCookies(await ctx.cookies());
    const p = dark.pages()[0] || await dark.newPage();
    const artist = tops(plays, (x) => x.artist, false)[0].sample.artist_id;
    for (const [hash, name] of [['#/listening/month', 'listening-04-phone-dark'], [`#/item/artist/${artist}`, 'listening-05-phone-dark-artist']]) {
      await p.goto(`${kt.baseUrl}/${hash}`);
      await p.waitForSelector(`.page[data-page="${hash.split('/')[1]}"][data-ready="true"]`);
      const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${hash}: no sideways scrolling on a phone (overflow ${overflow}px)`);
      if (hash === '#/listening/month') {
        const [lo, hi] = monthRange();
        assert.equal(Number(await p.getAttribute('#listening-summary [data-count="plays"]', 'data-value')), inRange(lo, hi).length);
      }
      await shot(name, p);
    }
  } finally {
    await dark.close();
  }
  // Only a cover on Spotify's CDN may fail to load (no network here); a
  // refused request of our own (a 401, a 404) counts.
  assert.deepEqual(consoleErrors.filter((e) => !/\(https:\/\/i\.scdn\.co\//.test(e)), []);
});
