// recap.test.mjs - the yearly recap page (issue 18, item 4) in headless
// Chromium: the year picker (by keyboard), every figure of a year against
// what this file computes from the emulator's truth and the export it
// imported (never the API's own answer), the month chart's label and
// numbers table, the JSON and SVG downloads, and the page at 1280x800 and
// 390x844 with no sideways scrolling and every cell on screen.
//
// Like the other browser files: one emulator user, one keeptrack, cases in
// order; waiting is on conditions only. Screenshots go to
// $KT_ARTIFACTS/recap/.

import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {startStack, stopStack, tempDir, gotoPage, followProgress, waitFor, atEachSize, layoutProblems} from './harness.mjs';

const USER = 'alice';
const DAY = 86400000;
const artifacts = path.join(process.env.KT_ARTIFACTS || tempDir('kt-browser-artifacts-'), 'recap');
const work = tempDir('kt-browser-recap-');
let emu, kt, ctx, page, years, y2;
let plays = []; // {at, uri, ms, name, artist}
const consoleErrors = [];

const bytes = (a, b) => Buffer.compare(Buffer.from(a || ''), Buffer.from(b || ''));
const isoDay = (ms) => new Date(ms).toISOString().slice(0, 10);
const yearOf = (ms) => new Date(ms).getUTCFullYear();

// A small seeded PRNG (mulberry32), so the export is the same every run.
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// The recap of year y from the expected plays: what the page must show.
function expected(y) {
  const lo = Date.UTC(y, 0, 1), hi = Date.UTC(y + 1, 0, 1);
  const sel = plays.filter((p) => p.at >= lo && p.at < hi);
  const ms = sel.reduce((a, p) => a + p.ms, 0);
  const group = (key) => {
    const m = new Map();
    for (const p of sel) {
      const e = m.get(key(p)) || {key: key(p), plays: 0, ms: 0};
      e.plays += 1;
      e.ms += p.ms;
      m.set(key(p), e);
    }
    return m;
  };
  const topTracks = [...group((p) => p.uri).values()].sort((a, b) => b.ms - a.ms || b.plays - a.plays || bytes(a.key, b.key)).slice(0, 10);
  const days = [...group((p) => Math.floor(p.at / DAY)).values()].sort((a, b) => a.key - b.key);
  const busiest = days.reduce((b, d) => (d.ms > b.ms ? d : b), days[0]);
  const hours = [...group((p) => new Date(p.at).getUTCHours()).values()].sort((a, b) => a.key - b.key);
  const hour = hours.reduce((b, d) => (d.ms > b.ms ? d : b), hours[0]);
  let best = [0, 0], run = 0;
  days.forEach((d, i) => {
    run = i > 0 && d.key === days[i - 1].key + 1 ? run + 1 : 1;
    if (run > best[1]) best = [d.key - run + 1, run];
  });
  const first = new Map();
  for (const p of [...plays].sort((a, b) => a.at - b.at)) if (!first.has(p.uri)) first.set(p.uri, p.at);
  const firstTracks = [...first.entries()].filter(([, at]) => at >= lo && at < hi);
  const months = Array.from({length: 12}, (_, m) => Math.floor(sel.filter((p) => new Date(p.at).getUTCMonth() === m).reduce((a, p) => a + p.ms, 0) / 60000));
  return {plays: sel.length, minutes: Math.floor(ms / 60000), tracks: new Set(sel.map((p) => p.uri)).size,
    artists: new Set(sel.map((p) => p.artist)).size, topTracks, busiest, hour, streak: {start: isoDay(best[0] * DAY), end: isoDay((best[0] + best[1] - 1) * DAY), days: best[1]},
    firstTracks: firstTracks.length, months};
}

before(async () => {
  fs.mkdirSync(artifacts, {recursive: true});
  ({emu, kt, ctx, page} = await startStack(work, `${USER}:liked=40,playlists=1,playlist_items=3,plays=30`, {viewport: {width: 1280, height: 800}}));
  await page.goto(kt.baseUrl + '/');
  await Promise.all([page.waitForURL(`${kt.baseUrl}/`), page.click('#connect-button')]);
  await page.waitForSelector('.page[data-page="dashboard"][data-ready="true"]');
  // from here on (firstvisit.test.mjs covers the logged-out first page)
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
});

after(() => stopStack({emu, kt, ctx}));

test('before any play the page says how to get some', async () => {
  await gotoPage(page, '#/recap');
  assert.equal(await page.getAttribute('#nav a[data-route="recap"]', 'aria-current'), 'page');
  assert.match(await page.textContent('#recap-empty'), /import your streaming history/);
});

test('sync and import two earlier years of history', async () => {
  await gotoPage(page, '#/dashboard');
  await page.click('#sync-now');
  assert.ok((await followProgress(page, '#sync-progress')).has('done'));
  const truth = await emu.truth(USER);
  const row = (at, t, ms) => ({at, uri: t.uri, ms, name: t.name, artist: t.artists[0].name});
  plays = truth.recently_played.map((p) => row(Date.parse(p.played_at), p.track, p.track.duration_ms));
  y2 = yearOf(Math.min(...plays.map((p) => p.at))) - 1;
  const rand = rng(18);
  const liked = truth.liked.map((e) => e.track).filter((t) => t.type === 'track');
  const taken = new Set(plays.map((p) => p.at));
  const recs = [];
  const add = (at, t) => {
    if (taken.has(at)) return;
    taken.add(at);
    const ms = 30000 + Math.floor(rand() * 210000);
    plays.push(row(at, t, ms));
    recs.push({ts: new Date(at).toISOString().replace('.000Z', 'Z'), ms_played: ms, spotify_track_uri: t.uri,
      master_metadata_track_name: t.name, master_metadata_album_artist_name: t.artists[0].name,
      master_metadata_album_album_name: t.album.name});
  };
  const pick = (pool) => pool[Math.min(Math.floor(-Math.log(1 - rand()) / 0.2), pool.length - 1)];
  // the year before y2: half the liked tracks; y2: all of them, and a week-long streak in March
  for (let i = 0; i < 120; i++) add(Date.UTC(y2 - 1, 0, 1) + Math.floor(rand() * 364 * 86400) * 1000, pick(liked.slice(0, 20)));
  for (let i = 0; i < 150; i++) add(Date.UTC(y2, 0, 1) + Math.floor(rand() * 364 * 86400) * 1000, pick([...liked].reverse()));
  for (let d = 0; d < 7; d++) add(Date.UTC(y2, 2, 10 + d, 21), liked[3]);
  const r = await page.request.post(`${kt.baseUrl}/api/history/import?name=Streaming_History_Audio_${y2 - 1}-${y2}_0.json`,
    {headers: {'Content-Type': 'application/json', Origin: kt.baseUrl}, data: JSON.stringify(recs)});
  assert.equal(r.status(), 200, await r.text());
  assert.equal((await r.json()).imported, recs.length);
  years = [...new Set(plays.map((p) => yearOf(p.at)))].sort();
});

async function checkYear(y) {
  const e = expected(y);
  assert.equal(await page.getAttribute('#recap-body', 'data-year'), String(y));
  const tile = async (k) => Number(await page.getAttribute(`#recap-summary [data-count="${k}"]`, 'data-value'));
  assert.equal(await tile('minutes'), e.minutes);
  assert.equal(await tile('plays'), e.plays);
  assert.equal(await tile('tracks'), e.tracks);
  assert.equal(await tile('artists'), e.artists);
  const fact = (k) => page.$eval(`[data-fact="${k}"]`, (el) => ({...el.dataset}));
  const day = await fact('busiest-day');
  assert.deepEqual([day.date, Number(day.ms), Number(day.plays)], [isoDay(e.busiest.key * DAY), e.busiest.ms, e.busiest.plays]);
  const hour = await fact('busiest-hour');
  assert.deepEqual([Number(hour.hour), Number(hour.ms)], [e.hour.key, e.hour.ms]);
  const streak = await fact('streak');
  assert.deepEqual({start: streak.start, end: streak.end, days: Number(streak.days)}, e.streak);
  assert.equal(Number((await fact('first-listens')).tracks), e.firstTracks);
  const rows = await page.$$eval('#recap-top-tracks tbody tr', (els) => els.map((el) => [el.dataset.uri, Number(el.dataset.plays), Number(el.dataset.ms)]));
  assert.deepEqual(rows, e.topTracks.map((t) => [t.key, t.plays, t.ms]));
  // the month chart: one bar per month with its minutes, all twelve in its label and table
  const bars = await page.$$eval('[data-chart="recap-months"] .bar-item', (els) => els.map((el) => Number(el.dataset.value)));
  assert.deepEqual(bars, e.months);
  const label = await page.getAttribute('[data-chart="recap-months"] svg', 'aria-label');
  assert.match(label, /January .*December/);
  assert.equal(await page.locator('[data-chart="recap-months"] details tbody tr').count(), 12);
  return e;
}

test('the newest year by default; another year by keyboard; every figure equals the truth', async () => {
  await gotoPage(page, '#/recap');
  const options = await page.$$eval('#recap-year option', (els) => els.map((o) => Number(o.value)));
  assert.deepEqual(options, [...years].reverse());
  assert.ok(years.includes(y2) && years.includes(y2 - 1));
  await checkYear(years[years.length - 1]);
  // keyboard: focus the picker and press ArrowDown until y2 is chosen
  await page.focus('#recap-year');
  while (Number(await page.$eval('#recap-year', (el) => el.value)) !== y2) await page.keyboard.press('ArrowDown');
  await waitFor(async () => (await page.getAttribute('#recap-body', 'data-year')) === String(y2), `the recap of ${y2}`);
  await page.waitForSelector('.page[data-page="recap"][data-ready="true"]');
  const e = await checkYear(y2);
  assert.ok(e.streak.days >= 7 && e.firstTracks > 0, 'the export was built to have both');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'recap-year');
  assert.equal(await page.evaluate(() => location.hash), `#/recap/${y2}`);
  await page.screenshot({path: path.join(artifacts, 'year.png'), fullPage: true});
});

test('JSON and SVG downloads of the year', async () => {
  for (const [id, ext] of [['#recap-json', 'json'], ['#recap-svg', 'svg']]) {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click(id)]);
    assert.equal(download.suggestedFilename(), `keeptrack-recap-${y2}.${ext}`);
    const file = path.join(work, `dl.${ext}`);
    await download.saveAs(file);
    const text = fs.readFileSync(file, 'utf8');
    const e = expected(y2);
    if (ext === 'json') {
      const got = JSON.parse(text);
      assert.deepEqual([got.year, got.plays, got.minutes], [y2, e.plays, e.minutes]);
    } else {
      assert.match(text, /^<\?xml[^]*<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
      assert.ok(text.includes(`>${y2} in music</text>`) && text.includes(`>${e.minutes}</text>`));
      assert.ok(!/<script/i.test(text));
    }
  }
});

test('the page at 1280x800 and 390x844: no sideways scrolling, every cell on screen', async () => {
  const found = [];
  await atEachSize(work, ctx, async (p, label) => {
    p.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(`${label}: ${m.text()}`); });
    p.on('pageerror', (e) => consoleErrors.push(`${label}: ${e}`));
    await p.goto(`${kt.baseUrl}/#/recap/${y2}`);
    await p.waitForSelector('.page[data-page="recap"][data-ready="true"]');
    assert.equal(await p.getAttribute('#recap-body', 'data-year'), String(y2));
    // the shared check, and this page's own kinds of element: highlights, lists, links, the chart
    const own = await p.evaluate(() => {
      const vw = document.documentElement.clientWidth;
      return [...document.querySelectorAll('main dd, main li, main a, main svg')]
        .filter((el) => el.getBoundingClientRect().right > vw + 0.5)
        .map((el) => `"${(el.textContent || el.id).slice(0, 40)}" is off screen`);
    });
    for (const problem of [...await layoutProblems(p), ...own]) found.push(`${label}: ${problem}`);
    await p.screenshot({path: path.join(artifacts, `${label}.png`), fullPage: true});
  });
  assert.deepEqual(found, []);
  assert.deepEqual(consoleErrors, []);
});
