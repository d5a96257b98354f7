// The SDK's own logic in node, without a browser: the MOS estimate, token claims, and
// the WebSocket session over a fake socket: hello, resume with the resume token after a
// drop (with what was sent meanwhile), a fresh session after resume_failed, and the end
// on token_expired.

import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { Dcx, estimateMos } from '../../../web-demo/sdk/dcx.js';
import { TOKENS } from '../lib/fixture.mjs';
import { nextEvent, until } from '../lib/wait.mjs';

test('estimateMos: 4.4 on a clean line, falling with loss and delay, within 1 .. 4.5', () => {
  const clean = estimateMos(1, 1, 0);
  assert.ok(clean > 4.38 && clean < 4.42, `clean ${clean}`);
  assert.ok(estimateMos(1, 1, 1) < clean && estimateMos(1, 1, 1) > clean - 0.1);
  assert.ok(estimateMos(1, 1, 5) < 4.1 && estimateMos(1, 1, 10) < 3.6);
  assert.ok(estimateMos(400, 30, 0) < estimateMos(100, 30, 0));
  assert.equal(estimateMos(2000, 500, 60), 1);
});

test('tokenClaims reads a token without checking it', () => {
  assert.deepEqual(Dcx.tokenClaims(TOKENS.agent1), { account: 'demo', user: 'agent1', role: 'agent', exp: 4102444800 });
  assert.equal(Dcx.tokenClaims('not a token'), null);
});

/** A WebSocket stand-in: the test opens, answers and drops it. */
class FakeSocket {
  static made = new EventEmitter();
  constructor(url) {
    this.url = url; this.readyState = 0; this.sent = [];
    FakeSocket.made.emit('socket', this);
  }
  send(data) { this.sent.push(JSON.parse(data)); FakeSocket.made.emit('sent', this); }
  close() { this.drop(1000); }
  open() { this.readyState = 1; this.onopen?.(); }
  recv(frame) { this.onmessage?.({ data: JSON.stringify(frame) }); }
  drop(code = 1006) {
    if (this.readyState === 3) return;
    this.readyState = 3; this.onclose?.({ code });
  }
}

const welcome = (resume, session = 's-1') => ({
  type: 'welcome', v: 1, session_id: session, resume_token: resume, user: 'agent1', account: 'demo',
  role: 'agent', resume_grace_s: 30, resumed_calls: [],
});

/** The next socket the phone makes, opened; and its hello. */
async function nextHello() {
  const ws = await nextEvent(FakeSocket.made, 'socket', () => true, { timeoutMs: 8000, what: 'a new socket' });
  ws.open();
  await until(() => ws.sent.find((m) => m.type === 'hello'), { what: 'hello' });
  return { ws, hello: ws.sent.find((m) => m.type === 'hello') };
}

test('the session: resume after a drop, a fresh session after resume_failed, the end on token_expired', async () => {
  const first = nextHello();
  const connecting = Dcx.connect('ws://gw.test/ws', TOKENS.agent1, { WebSocket: FakeSocket, pingIntervalMs: 0 });
  let { ws, hello } = await first;
  assert.deepEqual(hello, { type: 'hello', v: 1, token: TOKENS.agent1 });
  ws.recv(welcome('r1'));
  const phone = await connecting;
  assert.equal(phone.sessionId, 's-1');
  const states = [];
  phone.on('agent_state', (s) => states.push(s.state));
  ws.recv({ type: 'agent_state', state: 'away' });
  assert.deepEqual(states, ['away']);

  // A drop: a presence change meanwhile waits for the socket, then the resume.
  const resumed = nextEvent(phone, 'reconnected');
  let next = nextHello();
  ws.drop();
  assert.equal(phone.status, 'reconnecting');
  phone.setAgentState('available');
  ({ ws, hello } = await next);
  assert.equal(hello.resume, 'r1');
  ws.recv(welcome('r2'));
  assert.deepEqual(await resumed, { resumedCalls: [], resumed: true });
  assert.deepEqual(ws.sent.slice(1), [{ type: 'agent_state', state: 'available' }], 'sent once the socket is back');

  // The resume token is refused: a fresh session.
  next = nextHello();
  ws.drop();
  ({ ws, hello } = await next);
  assert.equal(hello.resume, 'r2');
  next = nextHello();
  ws.recv({ type: 'error', code: 'resume_failed', reason: 'unknown' });
  ws.drop();
  const fresh = nextEvent(phone, 'reconnected');
  ({ ws, hello } = await next);
  assert.equal(hello.resume, undefined, 'no resume after resume_failed');
  ws.recv(welcome('r3', 's-2'));
  assert.deepEqual(await fresh, { resumedCalls: [], resumed: false });
  assert.equal(phone.sessionId, 's-2');

  // The token expired meanwhile: the phone is closed, with the code.
  next = nextHello();
  ws.drop();
  ({ ws } = await next);
  const closed = nextEvent(phone, 'closed');
  ws.recv({ type: 'error', code: 'token_expired', reason: 'token expired' });
  ws.drop();
  assert.deepEqual(await closed, { code: 'token_expired', reason: 'token expired' });
  assert.equal(phone.reconnects, 2);
});
