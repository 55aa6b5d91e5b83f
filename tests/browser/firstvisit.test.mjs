// firstvisit.test.mjs - what a first-time user meets (issue 19): every
// card and list a job changes follows the job without a reload, covers
// load (from the emulator, offline), no page talks in operator words, and
// every page works at 1280x800 and at 390x844 (no sideways scrolling, every
// navigation item and table column shown, a readable heatmap).
//
// Like ui.test.mjs: one emulator user, one keeptrack, cases in order;
// expected values come from the API (page.request shares the cookies but
// not the browser's HTTP cache) and the emulator's truth; waiting is on
// conditions only. Screenshots of every page at both sizes go to
// $KT_ARTIFACTS/first-visit/.

import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {startStack, stopStack, getJson, launchBrowser, waitFor, tempDir, gotoPage, followProgress} from './harness.mjs';

const USER = 'alice';
const artifacts = path.join(process.env.KT_ARTIFACTS || tempDir('kt-browser-artifacts-'), 'first-visit');
const work = tempDir('kt-browser-first-');
// Every page a user reaches from the navigation, plus the playlists tab
// and one playlist; admin is the operator's page, checked for layout only.
async function userPages(p) {
  const nav = await p.$$eval('#nav a', (els) => els.map((a) => a.getAttribute('href').replace(/^#\//, '')));
  assert.ok(nav.length >= 6, `navigation: ${nav}`);
  return [...nav, 'library/playlists', 'playlist'];
}
let emu, kt, ctx, page;
const consoleErrors = [];

const apiJson = (p) => getJson(page, kt.baseUrl + p);

// '#/playlist/<id>' (an owned playlist, with versions) for the playlist
// entry of userPages().
async function hashOf(name) {
  if (name !== 'playlist') return `#/${name}`;
  const me = await apiJson('/api/me');
  const pl = (await apiJson('/api/playlists?limit=500')).items.find((p) => p.owner.id === me.spotify_id && p.items_synced);
  return `#/playlist/${pl.id}`;
}

before(async () => {
  fs.mkdirSync(artifacts, {recursive: true});
  ({emu, kt, ctx, page} = await startStack(work, `${USER}:liked=60,playlists=3,playlist_items=5-20,followed=10,plays=120,albums=5`, {viewport: {width: 1280, height: 800}}));
});

after(() => stopStack({emu, kt, ctx}));

test('sync now: the sync card and the counts follow the job, without a reload', async () => {
  // From the logged-out first visit on, any console error (a failed
  // request such as a 401, a broken image, a refused CSP source, a script
  // error) fails the last case.
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  await page.goto(kt.baseUrl + '/');
  await page.waitForSelector('body[data-state="logged-out"] #connect:not([hidden])');
  await Promise.all([page.waitForURL(`${kt.baseUrl}/`), page.click('#connect-button')]);
  await page.waitForSelector('.page[data-page="dashboard"][data-ready="true"]');
  await page.waitForFunction(() => !/Looking/.test(document.querySelector('#last-sync').textContent));
  assert.match(await page.textContent('#last-sync'), /^Not synced yet/);
  await page.evaluate(() => { window.ktNoReload = true; });

  await page.click('#sync-now');
  assert.ok((await followProgress(page, '#sync-progress')).has('done'));
  await page.waitForFunction(() => /^Last sync /.test(document.querySelector('#last-sync').textContent));
  const run = (await apiJson('/api/sync/runs?limit=1')).items[0];
  const n = (v) => new Intl.NumberFormat('en').format(v);
  assert.ok((await page.textContent('#last-sync')).endsWith(`: ${run.status}, ${n(run.added)} added, ${n(run.removed)} removed.`));
  await page.waitForSelector('.page[data-generation="2"]');
  assert.equal(await page.evaluate(() => window.ktNoReload), true, 'the page was not reloaded');

  // The dashboard's counts are the library pages' counts and the truth.
  const truth = await emu.truth(USER);
  const count = async (k) => Number(await page.getAttribute(`#counts [data-count="${k}"]`, 'data-value'));
  const liked = await count('liked'), playlists = await count('playlists');
  assert.equal(liked, truth.liked.length);
  assert.equal(playlists, truth.playlists.length);
  await gotoPage(page, '#/library');
  assert.equal(Number(await page.getAttribute('#liked-results', 'data-total')), liked);
  await gotoPage(page, '#/library/playlists');
  assert.equal(await page.locator('.page p.muted').first().textContent(), `${playlists} playlists`);
  assert.equal(await page.locator('#playlists-table tbody tr').count(), playlists);
});

test('settings: the recent syncs table gains the run that just ended', async () => {
  await gotoPage(page, '#/settings');
  const before = await page.locator('#runs-table tbody tr').count();
  assert.equal(before, (await apiJson('/api/sync/runs?limit=10')).items.length);
  await page.click('#sync-now');
  assert.ok((await followProgress(page, '#sync-progress')).has('done'));
  const runs = (await apiJson('/api/sync/runs?limit=10')).items;
  assert.equal(runs.length, before + 1);
  await waitFor(async () => (await page.locator('#runs-table tbody tr').count()) === runs.length, 'the new run in the table');
});

test('new releases: the list follows the refresh job, and every cover loads', async () => {
  await gotoPage(page, '#/releases');
  // Loaded once before the job: the browser may keep this answer 30 s.
  assert.equal(await page.getAttribute('#releases-list', 'data-total'), '0');
  const emptyText = await page.textContent('#releases-list');
  await page.click('#releases-refresh');
  assert.ok((await followProgress(page, '.page[data-page="releases"]')).has('done'));
  const want = await apiJson('/api/artists/?scope=me&limit=100&release_limit=5');
  assert.ok(want.paging.total > 0, 'the emulator\'s followed artists have recent releases');
  await waitFor(async () => Number(await page.getAttribute('#releases-list', 'data-total')) === want.paging.total,
    `the list to show ${want.paging.total} artists`);
  assert.deepEqual(await page.$$eval('#releases-list .tile', (els) => els.map((e) => e.dataset.artistId)),
    want.artists.map((a) => a.id));

  // Covers: served by the emulator (offline), allowed by the CSP, loaded.
  const csp = (await page.request.get(kt.baseUrl + '/')).headers()['content-security-policy'];
  assert.match(csp, new RegExp(`img-src [^;]* ${emu.baseUrl.replace(/[.]/g, '\\.')}[ ;]`));
  const imgs = await page.$$('#releases-list img');
  assert.ok(imgs.length > 0, 'the tiles have covers');
  for (const img of imgs) {
    await img.scrollIntoViewIfNeeded(); // they load lazily
    await img.evaluate((e) => (e.complete ? null : new Promise((r) => { e.onload = r; e.onerror = r; })));
    const [src, width] = await img.evaluate((e) => [e.currentSrc, e.naturalWidth]);
    assert.ok(src.startsWith(`${emu.baseUrl}/image/`), src);
    assert.ok(width > 0, `${src} did not load`);
  }
  await page.screenshot({path: path.join(artifacts, 'releases-after-refresh.png'), fullPage: true});
  // The empty list named the button by its label.
  assert.equal(await page.textContent('#releases-refresh'), 'Look for new releases');
  assert.match(emptyText, /Press "Look for new releases"/);
});

test('shuffle: the statistics follow the job', async () => {
  await gotoPage(page, '#/shuffle');
  assert.match(await page.textContent('#shuffle-stats'), /^You: 0 shuffles, 0 tracks\./);
  await page.selectOption('#shuffle-source', 'liked');
  await page.click('#shuffle-go');
  assert.ok((await followProgress(page, '#shuffle-progress')).has('done'));
  const mine = (await apiJson('/api/stats/shuffles')).mine;
  await page.waitForFunction((want) => document.querySelector('#shuffle-stats').textContent.startsWith(want),
    `You: 1 shuffle, ${mine.tracks_shuffled} tracks.`);
});

test('no page talks in operator words, and only operators are shown the admin page', async () => {
  for (const name of await userPages(page)) {
    await gotoPage(page, await hashOf(name));
    const text = await page.evaluate(() => document.body.innerText);
    for (const word of [/\/api\//, /KEEPTRACK_/, /\b(GET|POST|PUT|DELETE) \//, /restore-backup/]) {
      assert.doesNotMatch(text, word, `${name} page`);
    }
  }
  assert.equal(await page.locator('#nav a[href="#/admin"]').count(), 0, 'no Admin item in the navigation');
  await gotoPage(page, '#/settings');
  assert.equal(await page.getAttribute('#admin-hint a', 'href'), '#/admin');
});

// One page's layout problems at the current size, as sentences.
function layoutProblems() {
  const problems = [];
  const vw = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > vw) problems.push(`scrolls sideways (${document.documentElement.scrollWidth} > ${vw})`);
  for (const a of document.querySelectorAll('#nav a')) {
    const r = a.getBoundingClientRect();
    if (r.width === 0 || r.left < 0 || r.right > vw) problems.push(`nav item "${a.textContent}" is not in view`);
  }
  // Data tables (not a chart's numbers): every cell with text is shown,
  // inside the screen.
  for (const td of document.querySelectorAll('main table td')) {
    if (td.closest('figure.chart') || !td.textContent.trim()) continue;
    const r = td.getBoundingClientRect();
    if (td.getClientRects().length === 0) problems.push(`cell "${td.textContent}" is hidden`);
    else if (r.right > vw + 0.5) problems.push(`cell "${td.textContent}" is off screen (${Math.round(r.right)} > ${vw})`);
  }
  // Chart text no smaller than 10 px as drawn (SVGs scale with their box).
  for (const svg of document.querySelectorAll('figure.chart svg')) {
    const vb = svg.viewBox.baseVal, scale = svg.getBoundingClientRect().width / vb.width;
    const t = svg.querySelector('text');
    const px = t ? parseFloat(getComputedStyle(t).fontSize) * scale : 13;
    if (px < 10) problems.push(`chart "${svg.closest('figure').dataset.chart}" text is ${px.toFixed(1)} px`);
    // Axis labels that run into each other cannot be read either.
    const labels = [...svg.querySelectorAll('.axis text')].map((e) => [e.textContent, e.getBoundingClientRect()]);
    labels.forEach(([ta, a], i) => labels.slice(i + 1).forEach(([tb, b]) => {
      if (a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5) {
        problems.push(`chart "${svg.closest('figure').dataset.chart}" labels "${ta}" and "${tb}" overlap`);
      }
    }));
  }
  return problems;
}

test('every page at 1280x800 (light) and 390x844 (dark): no sideways scrolling, nothing hidden, readable charts', async () => {
  const sizes = [['desktop', {width: 1280, height: 800}, 'light', false], ['phone', {width: 390, height: 844}, 'dark', true]];
  const found = [];
  for (const [label, viewport, colorScheme, isMobile] of sizes) {
    const c = await launchBrowser(work, {viewport, colorScheme, isMobile});
    try {
      await c.addCookies(await ctx.cookies());
      const p = c.pages()[0] || await c.newPage();
      p.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(`${label}: ${m.text()}`); });
      await p.goto(`${kt.baseUrl}/#/dashboard`);
      for (const name of [...await userPages(p), 'admin']) {
        await gotoPage(p, await hashOf(name));
        for (const img of await p.$$('main img')) {
          await img.scrollIntoViewIfNeeded();
          await img.evaluate((e) => (e.complete ? null : new Promise((r) => { e.onload = r; e.onerror = r; })));
        }
        await p.evaluate(() => window.scrollTo(0, 0));
        for (const problem of await p.evaluate(layoutProblems)) found.push(`${label} ${name}: ${problem}`);
        await p.screenshot({path: path.join(artifacts, `${label}-${name.replace('/', '-')}.png`), fullPage: true});
      }
      if (isMobile) {
        await gotoPage(p, '#/dashboard');
        const turned = await p.getAttribute('[data-chart="heatmap"]', 'data-orientation');
        if (turned !== 'vertical') found.push(`phone dashboard: the heatmap is not turned (${turned})`);
      }
    } finally {
      await c.close();
    }
  }
  assert.deepEqual(found, []);
  assert.deepEqual(consoleErrors, []);
});
