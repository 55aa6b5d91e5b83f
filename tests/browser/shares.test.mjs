// shares.test.mjs - read-only share links (issue 18, item 3): the "Share"
// card of Settings makes a link to the library statistics, the top tracks
// and one playlist's versions, shows its address once and lists it; the
// address opened in a browser with no cookies shows those pages (numbers
// from the emulator's truth) without the navigation; revoking the link
// makes the same address say the link is gone. Settings and the public
// page at 1280x800 and 390x844: no sideways scrolling, every cell on
// screen.
//
// Like the other browser files: one emulator user, one keeptrack, cases in
// order; expected values come from the emulator's truth; waiting is on
// conditions only.

import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {startStack, stopStack, getJson, waitFor, tempDir, gotoPage, connectAndSync, layoutProblems,
  atEachSize, launchBrowser, SIZES} from './harness.mjs';

const USER = 'alice';
const artifacts = path.join(process.env.KT_ARTIFACTS || tempDir('kt-browser-artifacts-'), 'shares');
const work = tempDir('kt-browser-shares-');
let emu, kt, ctx, page, truth, url, playlistId;
const consoleErrors = [];

before(async () => {
  fs.mkdirSync(artifacts, {recursive: true});
  ({emu, kt, ctx, page} = await startStack(work, `${USER}:liked=25,playlists=2,playlist_items=3,plays=30`, {viewport: {width: 1280, height: 800}}));
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  assert.ok((await connectAndSync(page, kt)).has('done'));
  truth = await emu.truth(USER);
});

after(() => stopStack({emu, kt, ctx}));

test('Settings makes a link to stats, tops and a playlist, shown once and listed', async () => {
  await gotoPage(page, '#/settings');
  await page.waitForSelector('#share-card #shares-none');
  playlistId = truth.playlists[0].id;
  await page.check('#share-tops');
  await page.selectOption('#share-playlist', playlistId);
  await page.selectOption('#share-expiry', '7');
  await page.fill('#share-label', 'for Sam');
  await page.click('#share-go');
  await page.waitForSelector('#share-url');
  url = await page.inputValue('#share-url');
  assert.match(url, /\/#\/shared\/[A-Za-z0-9_-]{43}$/);
  await page.waitForSelector('#shares-table tbody tr');
  const shares = (await getJson(page, kt.baseUrl + '/api/shares')).shares;
  assert.equal(shares.length, 1);
  assert.deepEqual(shares[0].pages, ['stats', 'tops', `playlist:${playlistId}`]);
  assert.equal(shares[0].label, 'for Sam');
  const row = await page.$$eval('#shares-table tbody tr td', (tds) => tds.map((td) => td.textContent));
  assert.equal(row[0], 'for Sam');
  assert.match(row[1], new RegExp(`Library statistics, Top tracks, Versions of ${truth.playlists[0].name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  // the list never shows the token again
  assert.ok(!(await page.textContent('#shares-list')).includes(url.split('/').pop()));
});

test('the link, with no cookies, shows the chosen pages and no navigation', async () => {
  const c = await launchBrowser(work, {viewport: {width: 1280, height: 800}});
  try {
    const p = c.pages()[0] || await c.newPage();
    p.on('pageerror', (e) => consoleErrors.push(String(e)));
    await p.goto(url);
    await p.waitForSelector('.page[data-page="shared"][data-ready="true"]');
    assert.equal(await p.isVisible('#nav'), false);
    assert.equal(await p.textContent('#shared-tracks'), String(truth.liked.length));
    await p.waitForSelector('#shared-tops tbody tr');
    const shown = await p.$$eval('[data-shared]', (els) => els.map((e) => e.dataset.shared));
    assert.deepEqual(shown, ['stats', 'tops', `playlist:${playlistId}`]);
    assert.deepEqual(await c.cookies(), []); // nothing was needed, nothing was set
  } finally {
    await c.close();
  }
});

test('Settings and the public page at 1280x800 and 390x844: no sideways scrolling, every cell on screen', async () => {
  const found = [];
  await atEachSize(work, ctx, async (p, label) => {
    p.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(`${label}: ${m.text()}`); });
    await p.goto(`${kt.baseUrl}/#/settings`);
    await p.waitForSelector('.page[data-page="settings"][data-ready="true"]');
    await p.waitForSelector('#shares-table tbody tr');
    for (const problem of await layoutProblems(p)) found.push(`${label} settings: ${problem}`);
    await p.screenshot({path: path.join(artifacts, `${label}-settings.png`), fullPage: true});
  });
  for (const [label, viewport, isMobile] of SIZES) {
    const c = await launchBrowser(work, {viewport, isMobile});
    try {
      const p = c.pages()[0] || await c.newPage();
      await p.goto(url);
      await p.waitForSelector('.page[data-page="shared"][data-ready="true"]');
      for (const problem of await layoutProblems(p)) found.push(`${label} shared: ${problem}`);
      await p.screenshot({path: path.join(artifacts, `${label}-shared.png`), fullPage: true});
    } finally {
      await c.close();
    }
  }
  assert.deepEqual(found, []);
});

test('revoking the link: the same address says the link is gone', async () => {
  page.once('dialog', (d) => d.accept());
  await page.click('#shares-table tbody tr button.danger');
  await page.waitForSelector('#shares-none');
  const c = await launchBrowser(work, {viewport: {width: 390, height: 844}, isMobile: true});
  try {
    const p = c.pages()[0] || await c.newPage();
    await p.goto(url);
    await p.waitForSelector('#shared-missing');
    assert.match(await p.textContent('#shared-missing'), /does not exist, has expired or was revoked/);
  } finally {
    await c.close();
  }
  await waitFor(async () => (await getJson(page, kt.baseUrl + '/api/shares')).shares.length === 0, 'no links left');
  assert.deepEqual(consoleErrors, []);
});
