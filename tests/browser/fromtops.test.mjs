// fromtops.test.mjs - the "Top playlists" page (issue 18, item 2): Spotify's
// short-term top 5 made into a playlist (the emulator's truth holds those
// tracks in rank order), "Run again" replacing the same playlist, the top 3
// of the listening history by time (ranked here from the truth's recently
// played, each play lasting its track's duration), forgetting a saved one
// (its playlist stays), a bad number refused naming the field, and the
// page at 1280x800 and 390x844 with no sideways scrolling and every cell
// on screen.
//
// Like the other browser files: one emulator user, one keeptrack, cases in
// order; expected values come from the emulator's truth; waiting is on
// conditions only.

import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {startStack, stopStack, getJson, waitFor, tempDir, gotoPage, followProgress, connectAndSync, layoutProblems,
  atEachSize} from './harness.mjs';

const USER = 'alice';
const artifacts = path.join(process.env.KT_ARTIFACTS || tempDir('kt-browser-artifacts-'), 'fromtops');
const work = tempDir('kt-browser-fromtops-');
let emu, kt, ctx, page, truth;
const consoleErrors = [];

const apiJson = (p) => getJson(page, kt.baseUrl + p);
const savedIds = () => page.$$eval('#fromtops-table tbody tr', (rows) => rows.map((r) => r.dataset.id));
const playlistItems = async (id) => {
  const pl = (await emu.truth(USER)).playlists.find((p) => p.id === id);
  return pl ? pl.items.map((e) => (e.item || e.track).uri) : null;
};

// Makes the playlist the form describes; the playlist id of the result.
async function make() {
  await page.click('#ft-go');
  assert.ok((await followProgress(page, '#ft-progress')).has('done'));
  await page.waitForSelector('#ft-result [data-playlist-id]');
  return page.getAttribute('#ft-result [data-playlist-id]', 'data-playlist-id');
}

before(async () => {
  fs.mkdirSync(artifacts, {recursive: true});
  ({emu, kt, ctx, page} = await startStack(work, `${USER}:liked=30,playlists=1,playlist_items=3,plays=40`, {viewport: {width: 1280, height: 800}}));
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  assert.ok((await connectAndSync(page, kt)).has('done'));
  truth = await emu.truth(USER);
});

after(() => stopStack({emu, kt, ctx}));

test('Spotify\'s top 5 of the last 4 weeks into a playlist; run again replaces the same one', async () => {
  await gotoPage(page, '#/tops');
  assert.ok(await page.isVisible('#fromtops-none'));
  assert.ok(!(await page.isVisible('#ft-period'))); // history controls hidden for Spotify
  await page.selectOption('#ft-source', 'spotify');
  await page.selectOption('#ft-range', 'short_term');
  await page.fill('#ft-limit', '5');
  const id = await make();
  const want = truth.top.short_term.tracks.slice(0, 5).map((t) => t.uri);
  assert.equal(want.length, 5);
  assert.deepEqual(await playlistItems(id), want);
  const pl = (await emu.truth(USER)).playlists.find((p) => p.id === id);
  assert.equal(pl.name, 'Top 5: last 4 weeks');
  await page.waitForSelector(`#fromtops-table tbody tr[data-playlist-id="${id}"]`);
  assert.equal((await savedIds()).length, 1);

  const count = (await emu.truth(USER)).playlists.length;
  await page.click(`#fromtops-table tbody tr[data-playlist-id="${id}"] button:not(.danger)`);
  assert.ok((await followProgress(page, '#ft-progress')).has('done'));
  await page.waitForSelector(`#ft-result [data-playlist-id="${id}"]`);
  assert.match(await page.textContent('#ft-result'), /Replaced/);
  assert.deepEqual(await playlistItems(id), want);
  assert.equal((await emu.truth(USER)).playlists.length, count); // no second playlist
  assert.equal((await savedIds()).length, 1);
});

test('the top 3 of the listening history by time', async () => {
  const plays = new Map(), ms = new Map();
  for (const p of truth.recently_played) {
    plays.set(p.track.uri, (plays.get(p.track.uri) || 0) + 1);
    ms.set(p.track.uri, (ms.get(p.track.uri) || 0) + p.track.duration_ms);
  }
  const want = [...ms.keys()].sort((a, b) => (ms.get(b) - ms.get(a)) || (plays.get(b) - plays.get(a)) ||
    Buffer.compare(Buffer.from(a), Buffer.from(b))).slice(0, 3);
  await page.selectOption('#ft-source', 'history');
  assert.ok(await page.isVisible('#ft-period'));
  assert.ok(!(await page.isVisible('#ft-range')));
  await page.selectOption('#ft-period', 'all');
  await page.selectOption('#ft-by', 'time');
  await page.fill('#ft-limit', '3');
  await page.fill('#ft-name', 'Most time');
  await page.selectOption('#ft-refresh', 'monthly');
  const id = await make();
  assert.deepEqual(await playlistItems(id), want);
  await page.waitForSelector(`#fromtops-table tbody tr[data-playlist-id="${id}"]`);
  const defs = (await apiJson('/api/playlists/from-tops')).definitions;
  const d = defs.find((x) => x.playlist_id === id);
  assert.deepEqual([d.source, d.by, d.period, d.limit, d.name, d.refresh], ['history', 'time', 'all', 3, 'Most time', 'monthly']);
  const row = await page.$$eval(`#fromtops-table tbody tr[data-playlist-id="${id}"] td`, (tds) => tds.map((td) => td.textContent));
  assert.equal(row[0], 'Most time');
  assert.equal(row[1], 'Your listening by time, all time');
  assert.equal(row[3], 'Every month');
});

test('a bad number is refused naming the field; forgetting keeps the playlist', async () => {
  const before = await savedIds();
  await page.fill('#ft-limit', '500');
  await page.click('#ft-go');
  await waitFor(async () => /limit/.test(await page.textContent('#ft-progress')), 'the error naming limit');
  assert.deepEqual(await savedIds(), before);
  const id = await page.getAttribute('#fromtops-table tbody tr:first-child', 'data-playlist-id');
  await page.click('#fromtops-table tbody tr:first-child button.danger');
  await waitFor(async () => (await savedIds()).length === before.length - 1, 'one saved row fewer');
  assert.deepEqual((await apiJson('/api/playlists/from-tops')).definitions.map((x) => String(x.id)), before.slice(1));
  assert.ok(await playlistItems(id)); // still in Spotify
});

test('the page at 1280x800 and 390x844: no sideways scrolling, every cell on screen', async () => {
  const found = [];
  await atEachSize(work, ctx, async (p, label) => {
    p.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(`${label}: ${m.text()}`); });
    await p.goto(`${kt.baseUrl}/#/tops`);
    await p.waitForSelector('.page[data-page="tops"][data-ready="true"]');
    await p.waitForSelector('#fromtops-table tbody tr');
    for (const source of ['spotify', 'history']) {
      await p.selectOption('#ft-source', source);
      if (source === 'history') await p.selectOption('#ft-period', 'custom');
      for (const problem of await layoutProblems(p)) found.push(`${label} ${source}: ${problem}`);
      await p.screenshot({path: path.join(artifacts, `${label}-${source}.png`), fullPage: true});
    }
  });
  assert.deepEqual(found, []);
  assert.deepEqual(consoleErrors, []);
});
