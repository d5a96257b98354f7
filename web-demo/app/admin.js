// The admin view: trunks and their health, live calls with hang-up, calls per second
// and active calls (sampled from GET /api/v1/calls), the rate deck and its upload.

import { $, el, say, clock, loginForm, callerNumber } from './common.js';
import { api, apiErrorWords } from './api.js';
import { TimeChart } from './chart.js';

const POLL_MS = 3000;
const WINDOW_S = 300;

let client = null;
/** Call ids seen in the previous sample (a new id is a new call). */
let seen = null;
let lastSampleAt = 0;
let lastStarted = null;

const cps = new TimeChart($('#cps-chart'), {
  windowS: WINDOW_S, series: [{ key: 'cps', label: 'calls/s', color: '#1f5fbf', digits: 2 }],
});
const active = new TimeChart($('#active-chart'), {
  windowS: WINDOW_S, series: [{ key: 'active', label: 'active', color: '#1b7f3b' }],
});

window.dcxApp = { cps, active, started: () => lastStarted };

loginForm('dcx.admin.token', async (token) => {
  const c = api(token);
  // Proves the token (401 or 403 otherwise), in words.
  await c.trunks().catch((e) => { throw new Error(apiErrorWords(e)); });
  client = c;
  $('#conn').textContent = 'Logged in (admin)';
  $('#conn').dataset.kind = 'ok';
  $('#login').hidden = true;
  $('#app').hidden = false;
  poll();
  setInterval(poll, POLL_MS);
  showDeck();
});

async function poll() {
  try {
    const [calls, trunks, health] = await Promise.all([client.calls(), client.trunks(), healthz()]);
    sample(calls, health);
    renderCalls(calls);
    renderTrunks(trunks);
    say($('#poll-error'), null);
  } catch (e) {
    say($('#poll-error'), `The API: ${apiErrorWords(e)}`);
  }
}

/** `/healthz` (no token): the gateway's counters; null when it cannot be read. */
async function healthz() {
  try {
    const r = await fetch('/healthz', { cache: 'no-store' });
    return r.ok ? await r.json() : null;
  } catch { return null; }
}

/**
 * One sample for the charts: calls started per second since the last sample, from the
 * SIP endpoint's counter in /healthz (every call with a SIP leg, however short; without
 * it, new call ids in the API's list), and the live calls.
 */
function sample(calls, health) {
  const now = Date.now();
  const ids = new Set(calls.map((c) => `${c.session || ''}/${c.call_id}`));
  const started = health?.sip?.calls?.started;
  if (seen) {
    const fresh = typeof started === 'number' && typeof lastStarted === 'number'
      ? started - lastStarted
      : [...ids].filter((id) => !seen.has(id)).length;
    cps.push({ cps: fresh / ((now - lastSampleAt) / 1000) }, now);
  }
  seen = ids;
  lastStarted = started;
  lastSampleAt = now;
  const live = calls.filter((c) => c.kind !== 'supervision').length;
  active.push({ active: live }, now);
  $('#active-now').textContent = `${live} active now`;
}

function renderTrunks(trunks) {
  $('#trunks tbody').replaceChildren(...trunks.map((t) => {
    const h = t.health;
    const health = !h ? el('span', { class: 'unknown' }, t.address ? 'not probed' : 'inbound only')
      : h.up ? el('span', { class: 'up' }, '▲ up') : el('span', { class: 'down' }, '▼ down');
    const reg = t.registration ? `${t.registration.state}${t.registration.expires_in_s != null ? ` (${t.registration.expires_in_s} s)` : ''}` : t.register ? 'pending' : '–';
    return el('tr', { dataset: { trunk: t.name } },
      el('th', { scope: 'row' }, t.name),
      el('td', {}, t.address ? `${t.address} ${t.transport}` : (t.inbound_from || []).join(', ') || '–'),
      el('td', {}, health, h && h.last_status ? ` (last ${h.last_status})` : ''),
      el('td', { class: 'num' }, h ? `${h.pings} (${h.failed_pings})` : '–'),
      el('td', {}, reg));
  }));
}

function renderCalls(calls) {
  $('#calls-none').hidden = calls.length > 0;
  $('#calls tbody').replaceChildren(...calls.map((c) => {
    const who = c.kind === 'inbound' ? `${callerNumber(c.from)}${c.user ? ` → ${c.user}` : ''}`
      : c.kind === 'transferred' ? `${c.user}@${c.account}, put through to ${c.to}` : `${c.user}@${c.account}`;
    return el('tr', { dataset: { call: c.call_id } },
      el('td', {}, c.call_id), el('td', {}, c.kind), el('td', { title: c.from || '' }, who),
      el('td', {}, [c.queue, c.state].filter(Boolean).join(' / ') || '–'),
      el('td', { class: 'num' }, c.wait_s != null ? clock(c.wait_s) : '–'),
      el('td', {}, el('button', {
        type: 'button', class: 'danger', 'aria-label': `Hang up ${c.call_id}`,
        onclick: () => hangUp(c),
      }, 'Hang up')));
  }));
}

async function hangUp(c) {
  if (!confirm(`Hang up call ${c.call_id}?`)) return;
  try {
    await client.hangUp(c.call_id, c.session);
    $('#calls-msg').textContent = `Call ${c.call_id} is being hung up.`;
    poll();
  } catch (e) {
    $('#calls-msg').textContent = `Could not hang up ${c.call_id}: ${apiErrorWords(e)}`;
  }
}

// --- The rate deck -----------------------------------------------------------------

async function showDeck() {
  try {
    const d = await client.deck();
    $('#deck-now').textContent = `In effect: ${d.deck} — ${d.rows} rows, ${d.prefixes} prefixes, carriers ${(d.carriers || []).join(', ')}`;
  } catch (e) {
    $('#deck-now').textContent = `The deck: ${apiErrorWords(e)}`;
  }
}

$('#deck-file').addEventListener('change', async () => {
  const f = $('#deck-file').files[0];
  if (f) $('#deck-text').value = await f.text();
});

$('#deck-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const csv = $('#deck-text').value;
  const out = $('#deck-result');
  if (!csv.trim()) { out.replaceChildren(el('p', { class: 'error' }, 'Choose or paste a deck first.')); return; }
  out.replaceChildren(el('p', { class: 'hint' }, 'Compiling…'));
  try {
    const d = await client.putDeck(csv);
    out.replaceChildren(el('p', { class: 'up' },
      `Compiled and in effect: ${d.rows} rows, ${d.prefixes} prefixes, carriers ${(d.carriers || []).join(', ')}.`));
    showDeck();
  } catch (e) {
    if (e.code === 'deck_invalid') {
      out.replaceChildren(el('p', { class: 'error' }, `${e.message}.`),
        el('div', { class: 'table-wrap' }, el('table', { id: 'deck-problems' },
          el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Line'), el('th', { scope: 'col' }, 'Field'), el('th', { scope: 'col' }, 'Problem'))),
          el('tbody', {}, ...e.problems.map((p) => el('tr', {},
            el('td', { class: 'num' }, p.line || '–'), el('td', {}, p.field || ''), el('td', {}, p.message)))))));
    } else {
      out.replaceChildren(el('p', { class: 'error' }, `The upload failed: ${apiErrorWords(e)}`));
    }
  }
});
