// page_recap.js - the yearly recap (issue 18, item 4): a "wrapped" page
// for any year with plays (polled and imported): minutes and plays, the
// top tracks, artists and albums by listening time, first listens, the
// busiest day and hour, the longest streak of days and minutes per month,
// with the year's JSON and its SVG card as downloads.
//
// Data: GET /api/stats/recap/years and /api/stats/recap?year=. Every
// figure shown is the API's, unrounded in data-* attributes (the browser
// suite compares them with the emulator's truth); the month chart is a
// charts.js bar chart with its numbers table. Changing the year re-renders
// in place and updates the address with history.replaceState (no
// hashchange, so keyboard focus stays on the year picker).

import {api} from './api.js';
import {h, clear, fmtNumber, fmtDuration, announce, errorBox} from './dom.js';
import {barChart} from './charts.js';

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August',
  'September', 'October', 'November', 'December'];
// First listens listed on the page (the JSON download holds up to 100).
const FIRSTS_SHOWN = 10;

const jsonUrl = (year) => `/api/stats/recap?year=${year}`;
const svgUrl = (year) => `/api/stats/recap.svg?year=${year}`;

function tiles(r) {
  const tile = (key, label, value, text) => h('div', {class: 'count', dataset: {count: key, value}},
    h('span', {class: 'value'}, text), h('span', {class: 'label'}, label));
  return h('div', {class: 'counts', id: 'recap-summary'},
    tile('minutes', 'Minutes listened', r.minutes, fmtNumber(r.minutes)),
    tile('plays', 'Plays', r.plays, fmtNumber(r.plays)),
    tile('tracks', 'Different tracks', r.distinct_tracks, fmtNumber(r.distinct_tracks)),
    tile('artists', 'Different artists', r.distinct_artists, fmtNumber(r.distinct_artists)));
}

const hourText = (hr) => `${String(hr).padStart(2, '0')}:00–${String(hr + 1).padStart(2, '0')}:00 UTC`;

function highlights(r) {
  const d = r.busiest_day, hr = r.busiest_hour, st = r.longest_streak;
  const fl = r.first_listens;
  const item = (key, term, text, data) => [h('dt', null, term), h('dd', {dataset: {fact: key, ...data}}, text)];
  return h('section', {class: 'card', id: 'card-recap-highlights', 'aria-labelledby': 'recap-h-highlights'},
    h('h2', {id: 'recap-h-highlights'}, 'Highlights'),
    h('dl', {class: 'facts'},
      item('busiest-day', 'Busiest day', `${d.date}: ${fmtNumber(d.minutes)} minutes, ${fmtNumber(d.plays)} plays`,
        {date: d.date, ms: d.ms, plays: d.plays}),
      item('busiest-hour', 'Busiest hour', `${hourText(hr.hour)}: ${fmtNumber(hr.minutes)} minutes over the year`,
        {hour: hr.hour, ms: hr.ms, plays: hr.plays}),
      item('streak', 'Longest streak', `${fmtNumber(st.days)} day${st.days === 1 ? '' : 's'} in a row, ${st.start} to ${st.end}`,
        {start: st.start, end: st.end, days: st.days}),
      item('first-listens', 'First listens', `${fmtNumber(fl.tracks.total)} new tracks, ${fmtNumber(fl.artists.total)} new artists`,
        {tracks: fl.tracks.total, artists: fl.artists.total})));
}

function topTable(kind, title, items) {
  const body = items.length === 0 ? h('p', {class: 'muted'}, 'None.')
    : h('div', {class: 'table-wrap'}, h('table', {class: 'tops', id: `recap-top-${kind}`},
      h('thead', null, h('tr', null, h('th', {scope: 'col', class: 'num'}, '#'), h('th', {scope: 'col'}, 'Name'),
        h('th', {scope: 'col', class: 'num'}, 'Time'), h('th', {scope: 'col', class: 'num'}, 'Plays'))),
      h('tbody', null, items.map((it) => h('tr', {dataset: {rank: it.rank, name: it.name || '', uri: it.uri || '', artist: it.artist || '', plays: it.plays, ms: it.ms}},
        h('td', {class: 'num'}, it.rank),
        h('td', {class: 'name'}, it.name || '(unknown)', kind !== 'artists' && it.artist ? h('span', {class: 'sub muted'}, it.artist) : null),
        h('td', {class: 'num'}, fmtDuration(it.ms)),
        h('td', {class: 'num'}, fmtNumber(it.plays)))))));
  return h('section', {class: 'card', id: `card-recap-${kind}`, 'aria-labelledby': `recap-h-${kind}`},
    h('h2', {id: `recap-h-${kind}`}, title), body);
}

function firstsCard(fl) {
  const list = (id, label, part, text) => h('div', null, h('h3', null, `${label} (${fmtNumber(part.total)})`),
    part.items.length === 0 ? h('p', {class: 'muted'}, 'None.')
      : h('ol', {id, class: 'firsts'}, part.items.slice(0, FIRSTS_SHOWN).map((it) => h('li', {dataset: {name: it.name || '', uri: it.uri || '', at: it.first_played_at}},
        text(it), h('span', {class: 'sub muted'}, ` · ${it.first_played_at.slice(0, 10)}`)))),
    part.total > FIRSTS_SHOWN ? h('p', {class: 'muted'}, `and ${fmtNumber(part.total - FIRSTS_SHOWN)} more (in the JSON download).`) : null);
  return h('section', {class: 'card', id: 'card-recap-firsts', 'aria-labelledby': 'recap-h-firsts'},
    h('h2', {id: 'recap-h-firsts'}, 'First listens'),
    h('p', {class: 'muted'}, 'First played this year, never before.'),
    list('recap-first-tracks', 'Tracks', fl.tracks, (it) => `${it.name || '(unknown)'}${it.artist ? ` – ${it.artist}` : ''}`),
    list('recap-first-artists', 'Artists', fl.artists, (it) => it.name || '(unknown)'));
}

function monthChart(r) {
  const fig = barChart('recap-months', `Minutes per month, ${r.year} (UTC)`,
    r.months.map((m, i) => ({label: MONTHS[i], value: m.minutes})));
  // barChart's label names the first five bars; a year wants all twelve.
  const svg = fig.querySelector('svg');
  if (svg) svg.setAttribute('aria-label', `Minutes per month in ${r.year}: ${r.months.map((m, i) => `${MONTHS[i]} ${fmtNumber(m.minutes)}`).join(', ')}`);
  // Not a wide card: the 420-unit drawing would scale its text far past the page's.
  return h('section', {class: 'card', id: 'card-recap-months', 'aria-label': 'Minutes per month'}, fig);
}

function recapView(r) {
  return [tiles(r), h('div', {class: 'grid'}, monthChart(r), highlights(r),
    topTable('tracks', 'Top tracks', r.top_tracks), topTable('artists', 'Top artists', r.top_artists),
    topTable('albums', 'Top albums', r.top_albums), firstsCard(r.first_listens))];
}

export async function recapPage(ctx) {
  const {years} = await api('/api/stats/recap/years', {signal: ctx.signal});
  ctx.root.append(h('h1', null, 'Your year in music'));
  if (years.length === 0) {
    ctx.root.append(h('p', {class: 'muted', id: 'recap-empty'},
      'No plays yet. Sync to record what you play from now on, or import your streaming history (Export & backups) to see earlier years.'));
    return;
  }
  let year = years.includes(Number(ctx.args[0])) ? Number(ctx.args[0]) : years[years.length - 1];
  const picker = h('select', {id: 'recap-year'}, [...years].reverse().map((y) => h('option', {value: String(y)}, String(y))));
  picker.value = String(year);
  const jsonLink = h('a', {class: 'button', id: 'recap-json'}, 'Download JSON');
  const svgLink = h('a', {class: 'button', id: 'recap-svg'}, 'Download image (SVG)');
  const setLinks = () => {
    jsonLink.href = jsonUrl(year);
    jsonLink.download = `keeptrack-recap-${year}.json`;
    svgLink.href = svgUrl(year);
    svgLink.download = `keeptrack-recap-${year}.svg`;
  };
  const body = h('div', {id: 'recap-body'});
  ctx.root.append(
    h('p', {class: 'muted'}, 'From the plays keeptrack polls and the streaming history you imported. Days and hours are UTC; ranks are by listening time.'),
    h('form', {class: 'row controls', id: 'recap-controls', 'aria-label': 'Year'},
      h('div', {class: 'field'}, h('label', {for: 'recap-year'}, 'Year'), picker), jsonLink, svgLink),
    body);
  const load = async () => {
    const r = await api(jsonUrl(year), {signal: ctx.signal});
    clear(body, ...recapView(r));
    body.dataset.year = String(r.year);
    setLinks();
    return r;
  };
  picker.addEventListener('change', async () => {
    year = Number(picker.value);
    history.replaceState(null, '', `#/recap/${year}`);
    ctx.root.dataset.ready = 'false';
    try {
      const r = await load();
      announce(`Recap of ${r.year}: ${fmtNumber(r.minutes)} minutes, ${fmtNumber(r.plays)} plays.`);
    } catch (err) {
      if (err.name === 'AbortError') return;
      clear(body, errorBox(err));
    }
    ctx.root.dataset.ready = 'true';
  });
  await load();
}
