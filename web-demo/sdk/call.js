// dcx SDK: one call and its WebRTC peer connection.

import { DcxError } from './errors.js';
import { Emitter } from './emitter.js';
import { readQuality } from './quality.js';
import {
  DIGITS, audioConstraints, delay, gatheringComplete, openMicrophone,
} from './media.js';

/**
 * @typedef {'new'|'offered'|'connecting'|'trying'|'ringing'|'connected'|'held'|'ended'} CallState
 *   `offered`: an incoming call not answered yet; `connecting`: answered (or a
 *   supervision started), waiting for dcx's answer; `held`: we put the far end on hold.
 */

/**
 * One call: placed by `Phone#call`, offered by the `incoming` event, or a
 * supervision from `Phone#supervise`.
 *
 * Events (`call.on(name, fn)`):
 * - `state` `{state, previous}`: every change of `call.state`
 * - `trying`, `ringing` `{earlyMedia}`, `answered`, `held`, `unheld`
 * - `muted` `{muted}`; `mode` `{mode}` (supervisions)
 * - `ended` `{reason, sipCode, detail}`: the last event; `reason` is dcx's (`hangup`,
 *   `remote_hangup`, `busy`, `no_answer`, `rejected`, `transferred`, `failed`, ...), or an
 *   error code when dcx refused the call (`destination_blocked`, `microphone_denied`, ...)
 * - `dtmf` `{digit}`: a key the far end pressed
 * - `error` {@link DcxError}: dcx refused something about this call
 * - `quality` {@link Quality}: every second while media flows
 * - `remote_stream` `MediaStream`: the far end's audio arrived
 * - `ice_restart` `{phase: 'started'|'done'|'failed', reason}`
 */
export class Call extends Emitter {
  /**
   * @param {import('./dcx.js').Phone} phone
   * @param {{id: string, direction: 'outgoing'|'incoming'|'supervision', to?: string,
   *   from?: string, queue?: string, target?: string, mode?: string}} init
   */
  constructor(phone, init) {
    super();
    /** @private */ this.phone = phone;
    /** @type {string} */ this.id = init.id;
    /** @type {'outgoing'|'incoming'|'supervision'} */ this.direction = init.direction;
    /** Who was dialed (outgoing). @type {string|undefined} */ this.to = init.to;
    /** The caller (incoming), as dcx names it: a SIP URI or `user:NAME`. @type {string|undefined} */
    this.from = init.from;
    /** The queue an incoming call waited in. @type {string|undefined} */ this.queue = init.queue;
    /** The supervised call (supervisions). @type {string|undefined} */ this.target = init.target;
    /** `listen`, `whisper` or `barge` (supervisions). @type {string|undefined} */ this.mode = init.mode;
    /** @type {CallState} */ this.state = init.direction === 'incoming' ? 'offered' : 'new';
    /** @type {boolean} */ this.muted = false;
    /** `Date.now()` when it was answered. @type {number|null} */ this.answeredAt = null;
    /** `Date.now()` when it was created. @type {number} */ this.createdAt = Date.now();
    /** `Date.now()` when it ended. @type {number|null} */ this.endedAt = null;
    /** @type {{reason: string, sipCode?: number}|null} */ this.endInfo = null;
    /** @type {RTCPeerConnection|null} */ this.pc = null;
    /** @type {MediaStream|null} */ this.localStream = null;
    /** @type {MediaStream|null} */ this.remoteStream = null;
    /** The element that plays the far end (unless `playRemoteAudio: false`). @type {HTMLAudioElement|null} */
    this.audioElement = null;
    /** The latest quality sample. @type {Quality|null} */ this.quality = null;
    /** @private whether dcx knows the call id yet (`call`/`supervise` sent, or `incoming`) */
    this.known = init.direction === 'incoming';
    /** @private */ this.remoteSet = false;
    /** @private */ this.timers = [];
    /** @private */ this.undo = null;
    /** @private */ this.iceRestart = { running: false, wanted: false, resolve: null };
  }

  /** Whether the call is over. */
  get ended() { return this.state === 'ended'; }

  /** Seconds since the answer (0 before). */
  get durationS() { return this.answeredAt ? Math.floor((Date.now() - this.answeredAt) / 1000) : 0; }

  // --- Control --------------------------------------------------------------------

  /**
   * Answers an incoming call: opens the microphone, sends the browser's offer in
   * `accept`; dcx's `answered` carries its answer.
   * @param {{deviceId?: string}} [opts]
   */
  async answer(opts = {}) {
    if (this.state !== 'offered') throw new DcxError('bad_state', `cannot answer a call that is ${this.state}`, this.id);
    this.setState('connecting');
    const sdp = await this.prepareOffer(opts.deviceId);
    if (sdp) this.phone.send({ type: 'accept', call_id: this.id, sdp });
    if (sdp && this.muted) this.phone.send({ type: 'mute', call_id: this.id, muted: true });
  }

  /** Declines an incoming call; dcx offers it to the next agent. */
  reject() { this.phone.send({ type: 'reject', call_id: this.id }); }

  /** Ends the call in any state (a supervision: ends the supervision, not the call). */
  hangup() {
    if (this.ended) return;
    if (!this.known) { this.finish({ reason: 'hangup' }); return; } // before dcx heard of it
    this.phone.send({ type: 'hangup', call_id: this.id });
  }

  /** Puts the far end on hold (dcx re-INVITEs it `a=sendonly` and plays hold audio). */
  hold() {
    if (this.state !== 'connected') return;
    this.optimistic('connected', () => this.setState('held'));
    this.phone.send({ type: 'hold', call_id: this.id });
  }

  /** Takes the far end off hold. */
  unhold() {
    if (this.state !== 'held') return;
    this.optimistic('held', () => this.setState('connected'));
    this.phone.send({ type: 'unhold', call_id: this.id });
  }

  /**
   * Stops (true) or restarts (false) sending our audio: dcx sends silence to the far
   * end, and the local track is disabled too.
   * @param {boolean} [muted]
   */
  mute(muted = true) {
    muted = !!muted;
    this.localStream?.getAudioTracks().forEach((t) => { t.enabled = !muted; });
    if (muted === this.muted) return;
    this.muted = muted;
    // A call dcx does not know yet gets its mute right after the `call` frame; a
    // supervision takes no `mute` (its own track is all there is to silence).
    if (this.known && this.direction !== 'supervision') this.phone.send({ type: 'mute', call_id: this.id, muted });
    this.emit('muted', { muted });
  }

  /**
   * Sends key presses to the far end (dcx sends them as RFC 4733 events).
   * @param {string} digits `0-9 * # A-D` (lower-case a-d are accepted)
   * @param {{durationMs?: number}} [opts] 40 to 5000 ms per digit; dcx's default if absent
   */
  sendDigits(digits, opts = {}) {
    const d = String(digits).toUpperCase();
    if (!d || !DIGITS.test(d)) throw new DcxError('invalid_message', 'digits are 0-9 * # A-D', this.id);
    for (let i = 0; i < d.length; i += 32) {
      const msg = { type: 'dtmf', call_id: this.id, digits: d.slice(i, i + 32) };
      if (opts.durationMs) msg.duration_ms = Math.min(5000, Math.max(40, Math.round(opts.durationMs)));
      this.phone.send(msg);
    }
  }

  /**
   * Transfers the far end and leaves the call (`ended` `transferred` follows).
   * @param {string|Call} to a number, `user:NAME`, `queue:NAME`, `call:ID`, or another
   *   Call of this phone (attended transfer: the two far ends are joined)
   */
  transfer(to) {
    const dest = to instanceof Call ? `call:${to.id}` : String(to).trim();
    if (!dest) throw new DcxError('invalid_message', 'transfer needs a destination', this.id);
    this.phone.send({ type: 'transfer', call_id: this.id, to: dest });
  }

  /**
   * Changes a supervision's mode.
   * @param {'listen'|'whisper'|'barge'} mode
   */
  setMode(mode) {
    if (this.direction !== 'supervision') throw new DcxError('bad_state', 'only a supervision has a mode', this.id);
    const previous = this.mode;
    this.undo = { at: Date.now(), revert: () => { this.mode = previous; this.emit('mode', { mode: previous }); } };
    this.mode = mode;
    this.phone.send({ type: 'supervisor_mode', call_id: this.id, mode });
    this.emit('mode', { mode });
  }

  /**
   * Restarts ICE on this call (a network change): a new offer with new credentials in
   * `update`, dcx's `updated` answer applied; DTLS and the call go on. Done by the SDK
   * itself on `navigator.connection` changes and ICE `disconnected`/`failed`.
   * @param {string} [reason]
   */
  async restartIce(reason = 'asked') {
    const r = this.iceRestart;
    if (this.ended || !this.pc) return;
    r.wanted = true;
    if (r.running || !this.phone.isOpen) return; // done once the socket is back
    r.running = true;
    try {
      while (r.wanted && !this.ended) {
        r.wanted = false;
        if (this.pc.signalingState !== 'stable') break;
        this.emit('ice_restart', { phase: 'started', reason });
        const offer = await this.pc.createOffer({ iceRestart: true });
        await this.pc.setLocalDescription(offer);
        await gatheringComplete(this.pc, this.phone.opts.gatherTimeoutMs);
        const answered = new Promise((resolve) => { r.resolve = resolve; });
        this.phone.send({ type: 'update', call_id: this.id, sdp: this.pc.localDescription.sdp });
        const ok = await Promise.race([answered, delay(10000).then(() => false)]);
        r.resolve = null;
        if (!ok) {
          if (this.pc.signalingState === 'have-local-offer') {
            await this.pc.setLocalDescription({ type: 'rollback' }).catch(() => {});
          }
          this.emit('ice_restart', { phase: 'failed', reason });
          break;
        }
        this.emit('ice_restart', { phase: 'done', reason });
      }
    } catch (e) {
      this.emit('ice_restart', { phase: 'failed', reason: String(e && e.message) });
    } finally {
      r.running = false;
    }
  }

  // --- Internals ------------------------------------------------------------------

  /** @private Remembers how to undo a change that dcx may still refuse. */
  optimistic(previous, apply) {
    this.undo = { at: Date.now(), revert: () => { if (!this.ended) this.setState(previous); } };
    apply();
  }

  /** @private */
  setState(state) {
    const previous = this.state;
    if (previous === state || previous === 'ended') return;
    this.state = state;
    this.emit('state', { state, previous });
    if (state === 'held') this.emit('held');
    if (state === 'connected' && previous === 'held') this.emit('unheld');
  }

  /**
   * @private Opens the microphone, builds the peer connection and its offer, waits for
   * ICE gathering. Returns the SDP, or null when the call ended (or failed) meanwhile.
   */
  async prepareOffer(deviceId) {
    try {
      return await this.buildOffer(deviceId);
    } catch (e) {
      this.fail(e instanceof DcxError ? e : new DcxError('internal', `WebRTC: ${e && e.message}`, this.id));
      return null;
    }
  }

  /** @private */
  async buildOffer(deviceId) {
    const opts = this.phone.opts;
    this.localStream = await openMicrophone(audioConstraints(deviceId, opts.audio));
    if (this.ended) { this.stopMedia(); return null; }
    const pc = new RTCPeerConnection({
      iceServers: opts.iceServers || [], bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require',
    });
    this.pc = pc;
    for (const track of this.localStream.getAudioTracks()) {
      track.enabled = !this.muted;
      pc.addTrack(track, this.localStream);
    }
    pc.addEventListener('track', (e) => this.onTrack(e));
    pc.addEventListener('iceconnectionstatechange', () => this.onIceState());
    const offer = await pc.createOffer({ offerToReceiveAudio: true });
    await pc.setLocalDescription(offer);
    await gatheringComplete(pc, opts.gatherTimeoutMs);
    if (this.ended) { this.stopMedia(); return null; }
    return pc.localDescription.sdp;
  }

  /** @private dcx's answer to our offer, from `trying` or `answered`. */
  async applyAnswer(sdp) {
    if (!sdp || !this.pc || this.remoteSet) return;
    this.remoteSet = true;
    try {
      await this.pc.setRemoteDescription({ type: 'answer', sdp });
      this.startQuality();
    } catch (e) {
      this.emit('error', new DcxError('internal', `dcx's answer was not usable: ${e.message}`, this.id));
    }
  }

  /** @private dcx's answer to our `update`. */
  async applyUpdated(sdp) {
    const r = this.iceRestart;
    try {
      if (this.pc && this.pc.signalingState === 'have-local-offer') {
        await this.pc.setRemoteDescription({ type: 'answer', sdp });
      }
      r.resolve?.(true);
    } catch (e) {
      r.resolve?.(false);
    }
  }

  /** @private */
  onTrack(e) {
    const stream = e.streams[0] || new MediaStream([e.track]);
    this.remoteStream = stream;
    if (this.phone.opts.playRemoteAudio !== false && typeof document !== 'undefined') {
      const el = this.audioElement || document.createElement('audio');
      el.autoplay = true;
      el.hidden = true;
      el.dataset.dcxCall = this.id;
      el.srcObject = stream;
      if (!el.isConnected) document.body.appendChild(el);
      if (this.phone.opts.sinkId && el.setSinkId) el.setSinkId(this.phone.opts.sinkId).catch(() => {});
      el.play?.().catch(() => {});
      this.audioElement = el;
    }
    this.emit('remote_stream', stream);
  }

  /** @private ICE trouble: restart at once on `failed`, after a short grace on `disconnected`. */
  onIceState() {
    const s = this.pc && this.pc.iceConnectionState;
    if (s === 'failed') this.restartIce('ice failed');
    if (s === 'disconnected') {
      const t = setTimeout(() => {
        if (this.pc && this.pc.iceConnectionState === 'disconnected') this.restartIce('ice disconnected');
      }, this.phone.opts.iceDisconnectGraceMs);
      this.timers.push(t);
    }
  }

  /** @private */
  startQuality() {
    if (this.qualityTimer) return;
    let prev = null;
    this.qualityTimer = setInterval(async () => {
      if (!this.pc || this.ended) return;
      try {
        const { q, counters } = readQuality(await this.pc.getStats(), prev);
        prev = counters;
        if (q.packetsReceived === 0 && q.packetsSent === 0) return;
        this.quality = q;
        this.emit('quality', q);
      } catch { /* the connection closed meanwhile */ }
    }, this.phone.opts.qualityIntervalMs);
  }

  /** @private A refusal of this call by dcx or the browser: it ends here. */
  fail(err) {
    this.emit('error', err);
    this.finish({ reason: err.code });
  }

  /** @private The call is over: media stopped, `ended` emitted once. */
  finish({ reason, sipCode, detail }) {
    if (this.ended) return;
    this.endInfo = { reason, sipCode, detail };
    this.endedAt = Date.now();
    this.stopMedia();
    this.setState('ended');
    this.phone.calls.delete(this.id);
    this.emit('ended', { reason, sipCode, detail });
  }

  /** @private */
  stopMedia() {
    clearInterval(this.qualityTimer);
    this.timers.forEach(clearTimeout);
    this.localStream?.getTracks().forEach((t) => t.stop());
    if (this.pc) { try { this.pc.close(); } catch { /* closed */ } }
    if (this.audioElement) { this.audioElement.srcObject = null; this.audioElement.remove(); }
    this.iceRestart.resolve?.(false);
  }
}
