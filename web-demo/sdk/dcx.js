// dcx browser SDK: place and take dcx calls from any web page.
//
// ES modules, no build step, no dependencies: this file is the entry, beside it
// call.js (a call and its peer connection), quality.js (getStats and the MOS),
// media.js (WebRTC and microphone helpers), errors.js, emitter.js. The protocol is
// docs/signaling.md (one WebSocket per tab, JSON frames); the media is a WebRTC peer
// connection per call whose offers are always the browser's (dcx is ICE-lite and only
// answers). Reference and example: docs/sdk.md.
//
//   import { Dcx } from '/sdk/dcx.js';
//   const phone = await Dcx.connect(Dcx.defaultUrl(), token);
//   const call = phone.call('+15551234567');
//   call.on('answered', () => console.log('talking'));
//   call.on('ended', ({ reason, sipCode }) => console.log('over:', reason, sipCode));
//
// Rules these modules keep: every server frame is dispatched in `Phone#onFrame`; every
// state change of a call goes through `Call#setState`, which emits `state` and the
// change's own event; timers and listeners a call starts end with the call.

import { DcxError, ERROR_TEXT, FATAL_CODES, SETUP_REFUSALS } from './errors.js';
import { Emitter } from './emitter.js';
import { estimateMos } from './quality.js';
import { delay, newCallId } from './media.js';
import { Call } from './call.js';

export { Call, DcxError, ERROR_TEXT, estimateMos };

/** The protocol version this SDK speaks (`hello.v`). */
export const PROTOCOL_VERSION = 1;

// ---------------------------------------------------------------------------------
// Phone: the WebSocket, its session and resume, and the calls.

/**
 * @typedef {object} PhoneOptions
 * @property {MediaTrackConstraints} [audio] extra microphone constraints for every call
 *   (e.g. `{echoCancellation: false}`); `deviceId` per call overrides
 * @property {RTCIceServer[]} [iceServers] none by default (dcx's host candidate is enough)
 * @property {boolean} [playRemoteAudio] play the far end in a hidden <audio> (default true)
 * @property {string} [sinkId] audio output device for those elements
 * @property {boolean} [reconnect] reconnect by itself (default true)
 * @property {number} [connectTimeoutMs] for a `welcome` (default 10000)
 * @property {number} [gatherTimeoutMs] longest wait for ICE gathering (default 3000)
 * @property {number} [qualityIntervalMs] (default 1000)
 * @property {number} [iceDisconnectGraceMs] `disconnected` this long restarts ICE (default 2000)
 * @property {number} [pingIntervalMs] keepalive; a missing `pong` within half of it
 *   drops the socket and reconnects (default 20000; 0 = off)
 * @property {typeof WebSocket} [WebSocket] for tests
 */

const DEFAULTS = {
  reconnect: true, connectTimeoutMs: 10000, gatherTimeoutMs: 3000, qualityIntervalMs: 1000,
  iceDisconnectGraceMs: 2000, pingIntervalMs: 20000,
};

/**
 * A logged-in browser: one WebSocket to dcx, its session, and its calls.
 *
 * Events (`phone.on(name, fn)`):
 * - `incoming` {@link Call}: a call for this browser (`call.from`, `call.queue`)
 * - `agent_state` `{state, wrapUpRemainingS}`: the agent's presence as dcx set it
 * - `error` {@link DcxError}: an error not about one of the calls (those go to the call)
 * - `reconnecting` `{attempt, delayMs, resuming}`; `reconnected` `{resumedCalls, resumed}`
 * - `closed` `{code, reason}`: the phone is done (disconnect(), or a token dcx refused)
 * - `message` `object`: every frame from dcx (for debugging)
 */
export class Phone extends Emitter {
  /** @param {string} url @param {string} token @param {PhoneOptions} opts @private */
  constructor(url, token, opts) {
    super();
    /** @type {string} */ this.url = url;
    /** @private */ this.token = token;
    /** @type {Required<PhoneOptions>} */ this.opts = { ...DEFAULTS, ...opts };
    /** @type {Map<string, Call>} */ this.calls = new Map();
    /** @type {string|null} */ this.sessionId = null;
    /** @type {string|null} */ this.user = null;
    /** @type {string|null} */ this.account = null;
    /** @type {string|null} */ this.role = null;
    /** @type {number} */ this.resumeGraceS = 30;
    /** `connecting`, `connected`, `reconnecting` or `closed`. @type {string} */ this.status = 'connecting';
    /** The last `agent_state` dcx sent. @type {{state: string, wrapUpRemainingS?: number}|null} */
    this.agentState = null;
    /** How many times the socket came back. @type {number} */ this.reconnects = 0;
    /** @private kept in memory only (docs/signaling.md: never in localStorage) */
    this.resumeToken = null;
    /** @private */ this.ws = null;
    /** @private */ this.outbox = [];
    /** @private */ this.closing = false;
    /** @private */ this.pingSeq = 0;
    /** @private */ this.onNetworkChange = () => this.calls.forEach((c) => c.restartIce('network change'));
  }

  /** Whether the socket is open and logged in. */
  get isOpen() { return this.status === 'connected' && this.ws?.readyState === 1; }

  /**
   * Places a call: opens the microphone, offers, and sends `call`.
   * @param {string} to a number as dialed (`+15551234567`) or `user:NAME`
   * @param {{deviceId?: string, id?: string}} [opts]
   * @returns {Call} at once; its events tell the rest
   */
  call(to, opts = {}) {
    const dest = String(to || '').trim();
    const call = new Call(this, { id: opts.id || newCallId(), direction: 'outgoing', to: dest });
    this.calls.set(call.id, call);
    queueMicrotask(async () => {
      if (!dest) { call.fail(new DcxError('invalid_message', 'enter a number to call', call.id)); return; }
      if (this.status === 'closed') { call.fail(new DcxError('connection_failed', 'the phone is disconnected', call.id)); return; }
      const sdp = await call.prepareOffer(opts.deviceId);
      if (!sdp) return;
      this.send({ type: 'call', call_id: call.id, to: dest, sdp });
      call.known = true;
      if (call.state === 'new') call.setState('trying');
      if (call.muted) this.send({ type: 'mute', call_id: call.id, muted: true });
    });
    return call;
  }

  /**
   * Joins live call `target` (an id of `GET /api/v1/calls`) as a supervisor
   * (roles supervisor and admin).
   * @param {string} target
   * @param {'listen'|'whisper'|'barge'} [mode]
   * @param {{deviceId?: string, targetSession?: string, id?: string}} [opts]
   * @returns {Call} the supervision: `hangup()` ends it, `setMode()` changes it
   */
  supervise(target, mode = 'listen', opts = {}) {
    const call = new Call(this, {
      id: opts.id || newCallId().replace('c-', 's-'), direction: 'supervision', target, mode,
    });
    this.calls.set(call.id, call);
    queueMicrotask(async () => {
      call.setState('connecting');
      const sdp = await call.prepareOffer(opts.deviceId);
      if (!sdp) return;
      const msg = { type: 'supervise', call_id: call.id, target, mode, sdp };
      if (opts.targetSession) msg.target_session = opts.targetSession;
      this.send(msg);
      call.known = true;
    });
    return call;
  }

  /**
   * Sets the agent's own presence (roles agent and supervisor); dcx confirms with
   * `agent_state`.
   * @param {'available'|'away'|'offline'} state
   */
  setAgentState(state) { this.send({ type: 'agent_state', state }); }

  /**
   * A new token for the next reconnect (before the old one expires).
   * @param {string} token
   */
  updateToken(token) { this.token = token; }

  /** Round trip to dcx in ms (`ping`/`pong`). */
  async ping() {
    const seq = ++this.pingSeq;
    const t0 = performance.now();
    await new Promise((resolve, reject) => {
      const off = this.on('message', (m) => { if (m.type === 'pong' && m.seq === seq) { off(); resolve(); } });
      setTimeout(() => { off(); reject(new DcxError('timeout')); }, 5000);
      this.send({ type: 'ping', seq });
    });
    return performance.now() - t0;
  }

  /** Hangs up every call and closes the socket for good. */
  disconnect() {
    this.calls.forEach((c) => c.hangup());
    this.closing = true;
    this.stopTimers();
    try { this.ws?.close(1000, 'bye'); } catch { /* closed */ }
    this.calls.forEach((c) => c.finish({ reason: 'hangup' }));
    this.close({ code: 'closed', reason: 'disconnected' });
  }

  /**
   * @private Sends a frame now, or once the socket is back (a hangup while
   * reconnecting still reaches dcx).
   */
  send(msg) {
    if (this.isOpen) this.ws.send(JSON.stringify(msg));
    else if (this.status !== 'closed' && this.outbox.length < 100) this.outbox.push(msg);
  }

  // --- The socket -----------------------------------------------------------------

  /**
   * @private One WebSocket and its `hello`: resolves with the `welcome`, rejects with a
   * DcxError (`resume_failed`, a token error, `connection_failed`, `timeout`).
   */
  open(resume) {
    return new Promise((resolve, reject) => {
      const WS = this.opts.WebSocket || WebSocket;
      let ws;
      try { ws = new WS(this.url); } catch (e) { reject(new DcxError('connection_failed', e.message)); return; }
      let settled = false;
      const timer = setTimeout(() => settle(new DcxError('timeout', 'no welcome from dcx')), this.opts.connectTimeoutMs);
      const settle = (err, welcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) { ws.onclose = null; try { ws.close(); } catch { /* closed */ } reject(err); }
        else resolve({ ws, welcome });
      };
      ws.onopen = () => {
        const hello = { type: 'hello', v: PROTOCOL_VERSION, token: this.token };
        if (resume) hello.resume = resume;
        ws.send(JSON.stringify(hello));
      };
      ws.onmessage = (ev) => {
        let m;
        try { m = JSON.parse(ev.data); } catch { return; }
        if (m.type === 'welcome') settle(null, m);
        else if (m.type === 'error') settle(new DcxError(m.code, m.reason));
      };
      ws.onerror = () => {};
      ws.onclose = (ev) => settle(new DcxError('connection_failed', `the WebSocket closed (${ev.code})`));
    });
  }

  /** @private The socket is logged in: take it over. */
  adopt(ws, welcome) {
    this.ws = ws;
    this.sessionId = welcome.session_id;
    this.resumeToken = welcome.resume_token;
    this.user = welcome.user;
    this.account = welcome.account;
    this.role = welcome.role;
    this.resumeGraceS = welcome.resume_grace_s || 30;
    this.status = 'connected';
    ws.onmessage = (ev) => {
      let m;
      try { m = JSON.parse(ev.data); } catch { return; }
      this.onFrame(m);
    };
    ws.onclose = (ev) => this.onSocketClosed(ev);
    const queued = this.outbox.splice(0);
    queued.forEach((m) => this.send(m));
    this.startPings();
  }

  /** @private */
  startPings() {
    this.stopTimers();
    if (!this.opts.pingIntervalMs) return;
    this.pingTimer = setInterval(() => {
      if (!this.isOpen) return;
      this.ping().catch(() => { try { this.ws.close(4000, 'no pong'); } catch { /* closed */ } });
    }, this.opts.pingIntervalMs);
  }

  /** @private */
  stopTimers() { clearInterval(this.pingTimer); }

  /** @private A closing error frame (a bad token) ends the phone; anything else reconnects. */
  onSocketClosed(ev) {
    this.stopTimers();
    if (this.closing || this.status === 'closed') return;
    if (this.fatal) {
      this.calls.forEach((c) => c.finish({ reason: this.fatal.code }));
      this.close({ code: this.fatal.code, reason: this.fatal.reason });
      return;
    }
    if (!this.opts.reconnect) {
      this.calls.forEach((c) => c.finish({ reason: 'connection_failed' }));
      this.close({ code: 'connection_failed', reason: `the WebSocket closed (${ev && ev.code})` });
      return;
    }
    this.reconnectLoop();
  }

  /**
   * @private Reconnects with backoff (250 ms doubling to 5 s, +-20 %): with the resume
   * token while the grace lasts (the calls come back), then as a fresh session.
   */
  async reconnectLoop() {
    this.status = 'reconnecting';
    const graceEnds = Date.now() + this.resumeGraceS * 1000;
    for (let attempt = 1; !this.closing; attempt += 1) {
      const resuming = !!this.resumeToken && Date.now() < graceEnds;
      if (!resuming && this.resumeToken) this.loseSession('session_expired');
      const base = Math.min(5000, 250 * 2 ** (attempt - 1));
      let delayMs = Math.round(base * (0.8 + 0.4 * Math.random()));
      if (resuming) delayMs = Math.max(0, Math.min(delayMs, graceEnds - Date.now() - 500));
      this.emit('reconnecting', { attempt, delayMs, resuming });
      await delay(delayMs);
      if (this.closing) return;
      try {
        const { ws, welcome } = await this.open(resuming ? this.resumeToken : null);
        if (this.closing) { ws.close(); return; }
        const resumed = new Set(welcome.resumed_calls || []);
        if (!resuming) this.loseSession('session_expired');
        this.calls.forEach((c) => { if (!resumed.has(c.id)) c.finish({ reason: 'session_expired' }); });
        this.reconnects += 1;
        this.adopt(ws, welcome);
        this.emit('reconnected', { resumedCalls: [...resumed], resumed: resuming });
        // ICE trouble while the socket was down: the restart waited for it.
        this.calls.forEach((c) => {
          const ice = c.pc && c.pc.iceConnectionState;
          if (c.iceRestart.wanted || ice === 'failed' || ice === 'disconnected') c.restartIce('after reconnect');
        });
        return;
      } catch (err) {
        if (FATAL_CODES.has(err.code)) {
          this.calls.forEach((c) => c.finish({ reason: err.code }));
          this.emit('error', err);
          this.close({ code: err.code, reason: err.reason });
          return;
        }
        if (err.code === 'resume_failed') this.loseSession('session_expired');
      }
    }
  }

  /** @private The session is gone: its calls ended on dcx's side. */
  loseSession(reason) {
    this.resumeToken = null;
    this.outbox = this.outbox.filter((m) => m.type === 'agent_state');
    this.calls.forEach((c) => c.finish({ reason }));
  }

  /** @private */
  close(info) {
    if (this.status === 'closed') return;
    this.status = 'closed';
    this.outbox = [];
    if (typeof window !== 'undefined') {
      navigator.connection?.removeEventListener?.('change', this.onNetworkChange);
      window.removeEventListener('online', this.onNetworkChange);
    }
    this.emit('closed', info);
  }

  // --- Frames from dcx -------------------------------------------------------------

  /** @private Dispatches one server frame. */
  onFrame(m) {
    this.emit('message', m);
    const call = m.call_id ? this.calls.get(m.call_id) : undefined;
    switch (m.type) {
      case 'trying':
        if (!call) return;
        call.applyAnswer(m.sdp);
        if (call.state === 'new') call.setState('trying');
        call.emit('trying');
        return;
      case 'ringing':
        if (!call) return;
        call.setState('ringing');
        call.emit('ringing', { earlyMedia: !!m.early_media });
        return;
      case 'answered':
        if (!call) return;
        call.applyAnswer(m.sdp);
        call.answeredAt = call.answeredAt || Date.now();
        call.setState('connected');
        call.emit('answered');
        return;
      case 'updated':
        if (call) call.applyUpdated(m.sdp);
        return;
      case 'ended':
        if (call) call.finish({ reason: m.reason, sipCode: m.sip_code, detail: m.detail });
        return;
      case 'incoming': {
        const inc = new Call(this, { id: m.call_id, direction: 'incoming', from: m.from, queue: m.queue });
        this.calls.set(inc.id, inc);
        this.emit('incoming', inc);
        return;
      }
      case 'dtmf':
        if (call) call.emit('dtmf', { digit: m.digit });
        return;
      case 'agent_state':
        this.agentState = { state: m.state, wrapUpRemainingS: m.wrap_up_remaining_s };
        this.emit('agent_state', { ...this.agentState, at: Date.now() });
        return;
      case 'error':
        this.onError(new DcxError(m.code, m.reason, m.call_id), call);
        return;
      default:
    }
  }

  /** @private An `error` frame: to its call (which may end), or to the phone. */
  onError(err, call) {
    // resume_failed on a live socket: another tab or connection took the session over.
    if (FATAL_CODES.has(err.code) || err.code === 'resume_failed') this.fatal = err;
    if (!call) { this.emit('error', err); return; }
    const undo = call.undo && Date.now() - call.undo.at < 5000 ? call.undo : null;
    call.undo = null;
    const settingUp = ['new', 'trying', 'ringing', 'connecting'].includes(call.state);
    if (err.code === 'unknown_call' || (settingUp && SETUP_REFUSALS.has(err.code))) {
      call.fail(err);
      return;
    }
    if (call.iceRestart.resolve) call.iceRestart.resolve(false);
    undo?.revert();
    call.emit('error', err);
  }
}


/**
 * Connects and logs in: resolves once dcx's `welcome` came.
 * @param {string} url the WebSocket URL, e.g. `wss://gw.example/ws` ({@link defaultUrl})
 * @param {string} token a dcx token (HS256 JWT with account, user, role, exp)
 * @param {PhoneOptions} [opts]
 * @returns {Promise<Phone>} rejects with a {@link DcxError}: `token_invalid`,
 *   `token_expired`, `connection_failed`, `timeout`, ...
 */
export async function connect(url, token, opts = {}) {
  const phone = new Phone(url, token, opts);
  const { ws, welcome } = await phone.open(null);
  phone.adopt(ws, welcome);
  if (typeof window !== 'undefined') {
    navigator.connection?.addEventListener?.('change', phone.onNetworkChange);
    window.addEventListener('online', phone.onNetworkChange);
  }
  return phone;
}

/**
 * The WebSocket URL of the gateway that served this page (`ws(s)://HOST/ws`), or the
 * page's `?ws=` parameter.
 * @returns {string}
 */
export function defaultUrl() {
  const q = new URLSearchParams(location.search).get('ws');
  if (q) return q;
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
}

/**
 * The claims of a token, read without checking its signature (only dcx can): to show
 * who it is for, or that it has expired, before connecting. Null when it is not a JWT.
 * @param {string} token
 * @returns {{account: string, user: string, role: string, exp: number}|null}
 */
export function tokenClaims(token) {
  try {
    const part = String(token).trim().split('.')[1];
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4)));
  } catch {
    return null;
  }
}

/**
 * The microphones the browser offers (labels appear once access was granted).
 * @returns {Promise<MediaDeviceInfo[]>}
 */
export async function listMicrophones() {
  if (!navigator.mediaDevices?.enumerateDevices) return [];
  const all = await navigator.mediaDevices.enumerateDevices();
  return all.filter((d) => d.kind === 'audioinput');
}

/** The SDK as one object: `Dcx.connect(...)`. */
export const Dcx = {
  connect, defaultUrl, tokenClaims, listMicrophones, estimateMos, DcxError, Phone, Call,
  ERROR_TEXT, PROTOCOL_VERSION,
};
export default Dcx;
