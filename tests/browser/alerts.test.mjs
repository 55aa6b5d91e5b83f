// alerts.test.mjs - the Alerts page (issue 18, item 5): Spotify takes a
// track of a playlist away (the emulator's playlist_unavailable), the next
// sync raises one "playlist lost tracks" alert that the
// navigation's badge counts and the page shows with the track's URI (from
// the emulator's truth) and a link to the playlist's versions; the
// webhook run by this test received exactly that alert once; the
// Notifications card shows the webhook's host (never its secret path) and
// e-mail as not set up; a version's custom cover (item 6) shown on the
// playlist's page from keeptrack's copy; both cards at 1280x800 and 390x844 with no
// sideways scrolling and every control on screen; Dismiss empties the list
// and hides the badge.
//
// Like the other browser files: one emulator user, one keeptrack, cases in
// order; expected values come from the emulator's truth; waiting is on
// conditions only.

import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {startEmulator, startKeeptrack, launchBrowser, stopStack, getJson, waitFor, tempDir, gotoPage,
  connectAndSync, layoutProblems, atEachSize} from './harness.mjs';

const USER = 'alice';
const SECRET = 'hook-secret-9d1c';
const artifacts = path.join(process.env.KT_ARTIFACTS || tempDir('kt-browser-artifacts-'), 'alerts');
const work = tempDir('kt-browser-alerts-');
let emu, kt, ctx, page, hook, hookPort, lost, playlist;
const received = [];
const consoleErrors = [];

before(async () => {
  fs.mkdirSync(artifacts, {recursive: true});
  hook = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => { received.push({path: req.url, body: JSON.parse(body)}); res.end(); });
  });
  await new Promise((resolve) => hook.listen(0, '127.0.0.1', resolve));
  hookPort = hook.address().port;
  emu = await startEmulator(['--redirect-uri', 'any-loopback', '--user',
    `${USER}:liked=10,playlists=2,playlist_items=4-6,plays=10`], work);
  kt = await startKeeptrack(emu, work, {
    KEEPTRACK_ALERT_WEBHOOK_URL: `http://127.0.0.1:${hookPort}/hook/${SECRET}`,
    KEEPTRACK_SCHEDULER: 'on', KEEPTRACK_SCHEDULER_TICK_S: '1', KEEPTRACK_SYNC_LIBRARY_EVERY_S: '0',
    KEEPTRACK_SYNC_RECENT_EVERY_S: '0', KEEPTRACK_SYNC_TOP_EVERY_S: '0', KEEPTRACK_STATS_EVERY_S: '0',
    KEEPTRACK_BACKUP_INTERVAL_HOURS: '0', KEEPTRACK_RELEASES_INTERVAL_HOURS: '0'});
  ctx = await launchBrowser(work, {viewport: {width: 1280, height: 800}});
  page = ctx.pages()[0] || await ctx.newPage();
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  assert.ok((await connectAndSync(page, kt)).has('done'));
});

after(async () => {
  await stopStack({emu, kt, ctx});
  hook.close();
});

test('a playlist that lost a track: one alert, counted in the navigation, sent once', async () => {
  const truth = await emu.truth(USER);
  playlist = truth.playlists.find((p) => p.items && p.owner.id === USER &&
    p.items.some((e) => ((e.item || e.track) || {}).uri?.startsWith('spotify:track:')));
  lost = playlist.items.map((e) => ((e.item || e.track) || {}).uri).find((u) => u && u.startsWith('spotify:track:'));
  await emu.mutate(USER, {op: 'playlist_unavailable', playlist: playlist.id, uris: [lost]});
  // the sync as the page would start it (same-origin POST), followed to its end
  const job = await page.evaluate(async () => (await fetch('/api/sync', {method: 'POST',
    headers: {'Content-Type': 'application/json'}, body: '{"what":["playlists"]}'})).json());
  await waitFor(async () => (await getJson(page, `${kt.baseUrl}/api/jobs/${job.id}`)).state === 'done',
    'the sync', 60000);
  await gotoPage(page, '#/alerts');
  await page.waitForSelector('.alert-item[data-kind="playlist_lost_tracks"]');
  assert.equal(await page.$$eval('.alert-item', (els) => els.length), 1);
  assert.equal(await page.textContent('.alert-item .alert-title'), `A playlist lost tracks: ${playlist.name}`);
  assert.deepEqual(await page.$$eval('.alert-tracks code', (els) => els.map((e) => e.textContent)), [lost]);
  assert.equal(await page.getAttribute('.alert-item a.button', 'href'), `#/playlist/${playlist.id}`);
  await waitFor(async () => (await page.textContent('#alerts-count')) === '1' &&
    await page.isVisible('#alerts-count'), 'the badge to count 1');
  const [a] = (await getJson(page, kt.baseUrl + '/api/alerts')).alerts;
  await waitFor(async () => received.length === 1, 'the webhook');
  assert.equal(received[0].path, `/hook/${SECRET}`);
  assert.deepEqual(received[0].body, {source: 'keeptrack', id: a.id, kind: 'playlist_lost_tracks', scope: 'user',
    subject: playlist.id, title: a.title, message: a.message, details: a.details, created_at: a.created_at,
    link: `${kt.baseUrl}/#/alerts`});
  assert.deepEqual(a.details.tracks, [lost]);
});

test("item 6: the playlist page shows a version's custom cover from keeptrack's copy", async () => {
  const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(600, 7)]);
  await emu.mutate(USER, {op: 'playlist_cover', playlist: playlist.id, jpeg_base64: jpeg.toString('base64')});
  const job = await page.evaluate(async () => (await fetch('/api/sync', {method: 'POST',
    headers: {'Content-Type': 'application/json'}, body: '{"what":["playlists"]}'})).json());
  await waitFor(async () => (await getJson(page, `${kt.baseUrl}/api/jobs/${job.id}`)).state === 'done',
    'the sync', 60000);
  const now = (await emu.truth(USER)).playlists.find((p) => p.id === playlist.id);
  await page.click('.alert-item a.button');
  await page.waitForSelector('.page[data-page="playlist"][data-ready="true"]');
  const thumbs = await page.$$eval('#versions-list img.cover-thumb', (els) => els.map((e) => e.dataset.sha256));
  assert.deepEqual(thumbs, [now.cover_sha256]); // the newest version only: the others had the mosaic
  const digest = await page.evaluate(async () => {
    const r = await fetch(document.querySelector('#versions-list img.cover-thumb').src);
    const d = await crypto.subtle.digest('SHA-256', await r.arrayBuffer());
    return [r.status, r.headers.get('Content-Type'), [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, '0')).join('')];
  });
  assert.deepEqual(digest, [200, 'image/jpeg', now.cover_sha256]);
  await gotoPage(page, '#/alerts');
});

test('Notifications: the webhook by host only, e-mail not set up', async () => {
  assert.equal(await page.isChecked('#alerts-webhook'), true);
  const text = await page.textContent('#alerts-settings');
  assert.match(text, new RegExp(`Webhook \\(127\\.0\\.0\\.1:${hookPort}\\)`));
  assert.ok(!text.includes(SECRET));
  assert.match(text, /E-mail \(not set up on this server\)/);
  assert.equal(await page.isDisabled('#alerts-email'), true);
  await page.uncheck('#alerts-webhook');
  await page.click('#alerts-save');
  await page.waitForSelector('#alerts-save-result p');
  assert.equal((await getJson(page, kt.baseUrl + '/api/alerts/settings')).webhook, false);
});

test('the Alerts page at 1280x800 and 390x844: no sideways scrolling, every control on screen', async () => {
  const found = [];
  await atEachSize(work, ctx, async (p, label) => {
    p.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(`${label}: ${m.text()}`); });
    await p.goto(`${kt.baseUrl}/#/alerts`);
    await p.waitForSelector('.page[data-page="alerts"][data-ready="true"]');
    await p.waitForSelector('.alert-item');
    for (const problem of await layoutProblems(p)) found.push(`${label}: ${problem}`);
    await p.screenshot({path: path.join(artifacts, `${label}-alerts.png`), fullPage: true});
  });
  assert.deepEqual(found, []);
});

test('Dismiss empties the list and hides the badge', async () => {
  await page.click('.alert-item button.dismiss');
  await page.waitForSelector('#alerts-none');
  await waitFor(async () => !(await page.isVisible('#alerts-count')), 'the badge to hide');
  assert.deepEqual((await getJson(page, kt.baseUrl + '/api/alerts')).alerts, []);
  assert.equal(received.length, 1);
  assert.ok(!fs.readFileSync(kt.logPath, 'utf8').includes(SECRET));
  assert.deepEqual(consoleErrors, []);
});
