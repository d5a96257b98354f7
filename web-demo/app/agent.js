// The agent console: presence (with the wrap-up countdown), queue offers with a ring,
// the call, the queue board (REST, a supervisor's or admin's token), the session's history, and
// supervision of live calls (supervisors and admins).

import { Dcx } from '../sdk/dcx.js';
import {
  $, el, say, clock, errorWords, loginForm, wsUrl, connectionBadge, eventLog, callerNumber,
  reasonWords,
} from './common.js';
import { CallPanel } from './callpanel.js';
import { ringer } from './audio.js';
import { api, apiErrorWords } from './api.js';

const BOARD_POLL_MS = 2000;

/** @type {import('../sdk/dcx.js').Phone|null} */
let phone = null;
/** @type {import('../sdk/dcx.js').Call|null} */
let current = null;
/** @type {import('../sdk/dcx.js').Call|null} */
let offered = null;
/** @type {import('../sdk/dcx.js').Call|null} */
let supervision = null;
let presence = { state: 'offline', wrapUpRemainingS: undefined, at: Date.now() };
let board = null; // the REST client of the queue board
/** Every call of this session, for the history. */
const history = [];

const log = eventLog($('#log'));
const ring = ringer();
const panel = new CallPanel($('#call-panel'), {
  phone: () => phone, deviceId: () => '', log, quality: true, onEnded: (call) => addHistory(call),
});

window.dcxApp = {
  get phone() { return phone; }, get call() { return current; }, get supervision() { return supervision; },
  get ringing() { return ring.ringing; }, history,
};

const live = () => current && !current.ended;

loginForm('dcx.agent.token', async (token) => {
  phone = await Dcx.connect(wsUrl(), token);
  connectionBadge($('#conn'), phone);
  log(`logged in as ${phone.user} (${phone.role})`);
  phone.on('agent_state', (s) => { presence = s; renderPresence(); log(`status: ${s.state}`); });
  phone.on('incoming', onIncoming);
  phone.on('error', (e) => { log(`error ${e.code}: ${e.reason}`); say($('#agent-error'), errorWords(e)); });
  phone.on('reconnected', ({ resumed }) => log(resumed ? 'reconnected: session resumed' : 'reconnected: new session'));
  phone.on('closed', ({ reason }) => log(`disconnected: ${reason}`));
  $('#login').hidden = true;
  $('#app').hidden = false;
  const takesCalls = phone.role === 'agent' || phone.role === 'supervisor';
  for (const b of $('#status-switch').querySelectorAll('button')) b.disabled = !takesCalls;
  if (!takesCalls) {
    $('#status-now').textContent = 'Your role does not take queue calls';
    say($('#status-note'), 'Only agent and supervisor tokens take queue calls and have a status.', 'info');
  }
  $('#supervise').hidden = !(phone.role === 'supervisor' || phone.role === 'admin');
  // The REST API's live views take supervisor and admin tokens.
  if (phone.role === 'admin' || phone.role === 'supervisor') startBoard(token);
});

// --- Presence -------------------------------------------------------------------------

$('#status-switch').addEventListener('click', (ev) => {
  const b = ev.target.closest('button[data-state]');
  if (!b || !phone) return;
  say($('#agent-error'), null);
  phone.setAgentState(b.dataset.state);
});

function renderPresence() {
  const s = presence.state;
  for (const b of $('#status-switch').querySelectorAll('button')) {
    b.setAttribute('aria-pressed', String(b.dataset.state === s));
  }
  const now = $('#status-now');
  now.dataset.state = s;
  if (s === 'wrap_up') {
    now.textContent = `Wrap-up: ${wrapUpLeft()} s left`;
  } else {
    now.textContent = { available: 'Available: waiting for calls', away: 'Away: no calls offered',
      offline: 'Offline', busy: 'Busy: on a call' }[s] || s;
  }
}

/** Seconds of wrap-up left: dcx's figure, counted down since it came. */
function wrapUpLeft() {
  const elapsed = (Date.now() - presence.at) / 1000;
  return Math.max(0, Math.ceil((presence.wrapUpRemainingS ?? 0) - elapsed));
}

setInterval(() => { if (presence.state === 'wrap_up') renderPresence(); }, 250);

// --- Offers and the call ------------------------------------------------------------

function onIncoming(call) {
  log(`offer ${call.id} from ${call.from}${call.queue ? ` in ${call.queue}` : ''}`);
  offered = call;
  $('#offer-from').textContent = `Call from ${callerNumber(call.from)}`;
  $('#offer-from').title = call.from || '';
  $('#offer-queue').textContent = call.queue ? `Queue: ${call.queue}` : 'A direct call';
  $('#offer-ring').textContent = 'Ringing…';
  $('#offer-accept').disabled = !!live();
  $('#offer').hidden = false;
  $('#offer-accept').focus();
  ring.start();
  call.on('ended', () => {
    if (offered !== call) return;
    offered = null;
    hideOffer();
    addHistory(call);
  });
}

function hideOffer() {
  ring.stop();
  $('#offer').hidden = true;
}

$('#offer-accept').addEventListener('click', () => {
  const call = offered;
  if (!call || live()) return;
  offered = null;
  hideOffer();
  current = call;
  panel.show(call);
  $('#call').hidden = false;
  call.on('state', ({ state }) => log(`call ${call.id}: ${state}`));
  call.answer().catch((e) => log(`answer failed: ${errorWords(e)}`));
});

$('#offer-reject').addEventListener('click', () => {
  const call = offered;
  if (!call) return;
  call.reject();
  log(`rejected ${call.id}`);
});

// --- History ---------------------------------------------------------------------------

function addHistory(call) {
  if (history.some((h) => h.id === call.id)) return;
  const entry = {
    id: call.id, at: call.createdAt, from: call.from, queue: call.queue || '',
    talkS: call.answeredAt ? Math.round(((call.endedAt || Date.now()) - call.answeredAt) / 1000) : 0,
    outcome: call.answeredAt ? reasonWords(call.endInfo.reason, call.endInfo.sipCode)
      : `missed: ${reasonWords(call.endInfo.reason, call.endInfo.sipCode)}`,
  };
  history.push(entry);
  $('#history-none').hidden = true;
  $('#history tbody').prepend(el('tr', { dataset: { call: call.id } },
    el('td', {}, new Date(entry.at).toLocaleTimeString()),
    el('td', { title: entry.from || '' }, callerNumber(entry.from)),
    el('td', {}, entry.queue),
    el('td', { class: 'num' }, clock(entry.talkS)),
    el('td', {}, entry.outcome)));
}

// --- The queue board (REST, a supervisor's or admin's token) ----------------------

$('#board-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const token = $('#board-token').value.trim();
  if (token) startBoard(token);
});

let boardTimer = null;
let boardData = { queues: [], agents: [], calls: [], at: Date.now() };

function startBoard(token) {
  board = api(token);
  clearInterval(boardTimer);
  pollBoard();
  boardTimer = setInterval(pollBoard, BOARD_POLL_MS);
}

async function pollBoard() {
  try {
    const wantCalls = !$('#supervise').hidden;
    const [queues, agents, calls] = await Promise.all([
      board.queues(), board.agents(), wantCalls ? board.calls() : Promise.resolve([]),
    ]);
    boardData = { queues, agents, calls, at: Date.now() };
    say($('#board-error'), null);
    $('#board-locked').hidden = true;
    $('#board-body').hidden = false;
    renderBoard();
  } catch (e) {
    say($('#board-error'), `Queue board: ${apiErrorWords(e)}`);
    if (e.status === 401 || e.status === 403) {
      clearInterval(boardTimer);
      $('#board-locked').hidden = false;
      $('#board-body').hidden = true;
    }
  }
}

function renderBoard() {
  const elapsed = Math.floor((Date.now() - boardData.at) / 1000);
  const waiting = boardData.queues.flatMap((q) => q.waiting || []);
  $('#waiting tbody').replaceChildren(...waiting.map((w) => el('tr', { dataset: { call: w.call_id } },
    el('td', {}, w.queue), el('td', { title: w.from }, callerNumber(w.from)),
    el('td', {}, w.state === 'ringing' ? `ringing at ${w.agent}` : w.state),
    el('td', { class: 'num' }, clock((w.wait_s || 0) + elapsed)))));
  $('#waiting-none').hidden = waiting.length > 0;
  $('#agents tbody').replaceChildren(...boardData.agents.map((a) => el('tr', { dataset: { agent: a.user } },
    el('td', {}, a.user),
    el('td', {}, a.state === 'wrap_up' && a.wrap_up_remaining_s != null ? `wrap-up (${a.wrap_up_remaining_s} s)` : a.state.replace('_', '-')),
    el('td', {}, (a.queues || []).join(', ')),
    el('td', { class: 'num' }, a.calls_handled ?? 0))));
  $('#board-updated').textContent = `Updated ${new Date(boardData.at).toLocaleTimeString()}`;
  renderLiveCalls();
}

setInterval(() => { if (board && !$('#board-body').hidden) renderBoard(); }, 1000);

// --- Supervision -----------------------------------------------------------------------

function renderLiveCalls() {
  if ($('#supervise').hidden) return;
  // Supervisions and calls the browser has left (`transferred`) cannot be supervised.
  const calls = boardData.calls.filter((c) => c.kind === 'inbound' || c.kind === 'browser');
  $('#live-note').hidden = !!board;
  $('#live-calls tbody').replaceChildren(...calls.map((c) => {
    const who = c.kind === 'inbound' ? `${callerNumber(c.from)} → ${c.user || c.queue}` : `${c.user} (browser)`;
    const buttons = ['listen', 'whisper', 'barge'].map((mode) => el('button', {
      type: 'button', onclick: () => startSupervision(c.call_id, mode, c.session),
      'aria-label': `${mode} on ${c.call_id}`, disabled: !!supervision || (c.state && c.state !== 'answered'),
    }, mode));
    return el('tr', { dataset: { call: c.call_id } }, el('td', {}, c.call_id), el('td', {}, who),
      el('td', {}, c.state || 'live'), el('td', {}, el('span', { class: 'buttons' }, ...buttons)));
  }));
}

$('#sup-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const target = $('#sup-target').value.trim();
  if (!target) { say($('#sup-error'), 'Enter the id of a live call.'); return; }
  startSupervision(target, $('#sup-mode').value);
});

function startSupervision(target, mode, session) {
  if (!phone || supervision) return;
  say($('#sup-error'), null);
  const s = phone.supervise(target, mode, { targetSession: session || undefined });
  supervision = s;
  log(`supervising ${target} (${mode})`);
  $('#sup-what').textContent = `Supervising ${target}`;
  $('#sup-live').hidden = false;
  $('#sup-form').hidden = true;
  const render = () => {
    $('#sup-state').textContent = `${s.state === 'connected' ? 'joined' : s.state}, ${s.mode}`;
    for (const b of $('#sup-modes').querySelectorAll('button')) {
      b.setAttribute('aria-pressed', String(b.dataset.mode === s.mode));
      b.disabled = s.state !== 'connected';
    }
  };
  s.on('state', render);
  s.on('mode', render);
  s.on('error', (e) => say($('#sup-error'), errorWords(e)));
  s.on('ended', ({ reason }) => {
    log(`supervision of ${target} ended: ${reasonWords(reason)}`);
    supervision = null;
    $('#sup-live').hidden = true;
    $('#sup-form').hidden = false;
    renderLiveCalls();
  });
  render();
  renderLiveCalls();
}

$('#sup-modes').addEventListener('click', (ev) => {
  const b = ev.target.closest('button[data-mode]');
  if (b && supervision) supervision.setMode(b.dataset.mode);
});
$('#sup-leave').addEventListener('click', () => supervision?.hangup());
$('#live-note').textContent = 'Live calls come from GET /api/v1/calls (a supervisor sees its own '
  + "account's): with another token, paste one in the queue board, or type a call id above.";
