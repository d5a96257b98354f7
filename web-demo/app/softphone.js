// The softphone page: log in, dial, one call at a time (plus a consult call for an
// attended transfer), the microphone and its level, incoming browser calls.

import { Dcx } from '../sdk/dcx.js';
import {
  $, say, errorWords, loginForm, wsUrl, connectionBadge, eventLog, fillMicrophones, callerNumber,
  reasonWords,
} from './common.js';
import { dialpad } from './dialpad.js';
import { CallPanel } from './callpanel.js';
import { levelMeter } from './audio.js';

/** @type {import('../sdk/dcx.js').Phone|null} */
let phone = null;
/** @type {import('../sdk/dcx.js').Call|null} */
let current = null;
/** @type {import('../sdk/dcx.js').Call|null} */
let offered = null;
let testStream = null;

const log = eventLog($('#log'));
const meter = levelMeter($('#mic-level'), $('#mic-db'));
const panel = new CallPanel($('#call-panel'), {
  phone: () => phone, deviceId: () => $('#mic').value, log, onEnded: ended,
});

// For tests and the curious: the page's phone and call.
window.dcxApp = {
  get phone() { return phone; }, get call() { return current; }, get consult() { return panel.consult; },
};

const live = () => current && !current.ended;

loginForm('dcx.softphone.token', async (token) => {
  phone = await Dcx.connect(wsUrl(), token);
  connectionBadge($('#conn'), phone);
  log(`connected as ${phone.user} (${phone.role}), session ${phone.sessionId}`);
  phone.on('incoming', onIncoming);
  phone.on('error', (e) => { say($('#dial-error'), errorWords(e)); log(`error ${e.code}: ${e.reason}`); });
  phone.on('reconnecting', ({ attempt, delayMs }) => log(`socket lost: reconnect attempt ${attempt} in ${delayMs} ms`));
  phone.on('reconnected', ({ resumedCalls, resumed }) => log(resumed
    ? `reconnected, session resumed with ${resumedCalls.length} call(s)` : 'reconnected as a new session'));
  phone.on('closed', ({ reason }) => { log(`disconnected: ${reason}`); say($('#dial-error'), `Disconnected: ${reason}`); });
  $('#login').hidden = true;
  $('#app').hidden = false;
  $('#number').focus();
  fillMicrophones($('#mic')).catch(() => {});
});

dialpad($('#dialpad'), (key) => {
  if (live()) return; // the call panel's keypad sends tones
  const n = $('#number');
  n.value += key;
});
$('#backspace').addEventListener('click', () => { const n = $('#number'); n.value = n.value.slice(0, -1); n.focus(); });

$('#dial-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const to = $('#number').value.trim();
  say($('#dial-error'), null);
  if (!phone) return;
  if (!to) { say($('#dial-error'), 'Enter a number to call.'); return; }
  if (live()) { say($('#dial-error'), 'Hang up the current call first.'); return; }
  const call = phone.call(to, { deviceId: $('#mic').value });
  log(`calling ${to} (call ${call.id})`);
  follow(call);
});

function follow(call) {
  current = call;
  panel.show(call);
  $('#call').hidden = false;
  $('#dial').hidden = true;
  call.on('state', ({ state }) => {
    log(`call ${call.id}: ${state}`);
    if (call.localStream && !testStream) meter.follow(call.localStream);
  });
  call.on('error', (e) => log(`call ${call.id} error ${e.code}: ${e.reason}`));
}

function ended(call) {
  log(`call ${call.id} ended: ${reasonWords(call.endInfo.reason, call.endInfo.sipCode)}`);
  if (call !== current) return;
  $('#dial').hidden = false;
  if (!testStream) meter.follow(null);
  if (call.endInfo.reason === 'microphone_denied' || call.endInfo.reason === 'microphone_missing') {
    say($('#mic-error'), Dcx.ERROR_TEXT[call.endInfo.reason]);
  }
  fillMicrophones($('#mic')).catch(() => {});
}

function onIncoming(call) {
  log(`incoming call ${call.id} from ${call.from}`);
  offered = call;
  $('#incoming-from').textContent = `From ${callerNumber(call.from)}${call.queue ? ` (queue ${call.queue})` : ''}`
    + (live() ? ' — you are on a call: reject it or hang up first' : '');
  $('#incoming-accept').disabled = !!live();
  $('#incoming').hidden = false;
  call.on('ended', () => { if (offered === call) { offered = null; $('#incoming').hidden = true; } });
}

$('#incoming-accept').addEventListener('click', () => {
  const call = offered;
  if (!call || live()) return;
  offered = null;
  $('#incoming').hidden = true;
  follow(call);
  call.answer({ deviceId: $('#mic').value }).catch((e) => say($('#dial-error'), errorWords(e)));
});
$('#incoming-reject').addEventListener('click', () => {
  offered?.reject();
  $('#incoming').hidden = true;
});

// Microphone choice and the level meter's test mode.
function stopTest() {
  testStream?.getTracks().forEach((t) => t.stop());
  testStream = null;
  $('#mic-test').setAttribute('aria-pressed', 'false');
  $('#mic-test').textContent = 'Test microphone';
  meter.follow(live() ? current.localStream : null);
}

async function startTest() {
  say($('#mic-error'), null);
  try {
    const id = $('#mic').value;
    testStream = await navigator.mediaDevices.getUserMedia({ audio: id ? { deviceId: { exact: id } } : true });
    $('#mic-test').setAttribute('aria-pressed', 'true');
    $('#mic-test').textContent = 'Stop the test';
    meter.follow(testStream);
    fillMicrophones($('#mic')).catch(() => {});
  } catch (e) {
    say($('#mic-error'), e.name === 'NotAllowedError'
      ? Dcx.ERROR_TEXT.microphone_denied : `${Dcx.ERROR_TEXT.microphone_error}: ${e.message}`);
  }
}

$('#mic-test').addEventListener('click', () => (testStream ? stopTest() : startTest()));
$('#mic').addEventListener('change', () => {
  if (testStream) { stopTest(); startTest(); }
  if (live()) log('the new microphone is used from the next call on');
});
navigator.mediaDevices?.addEventListener?.('devicechange', () => fillMicrophones($('#mic')).catch(() => {}));
