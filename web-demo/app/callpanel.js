// The panel of a call in progress (softphone and agent console): who, the state in
// words, the timer, mute, hold, hang up, the keypad (DTMF), blind and attended
// transfer, and the live quality graph.

import { $, clock, callerNumber, stateWords, errorWords, reasonWords, say } from './common.js';
import { dialpad } from './dialpad.js';
import { TimeChart } from './chart.js';

const TEMPLATE = `
  <p class="peer" data-role="peer"></p>
  <p class="state" data-role="state" role="status" aria-live="polite" aria-atomic="true"></p>
  <p class="timer"><span class="sr-only">Call time </span><span data-role="timer">0:00</span></p>
  <div class="buttons">
    <button type="button" data-act="mute" aria-pressed="false">Mute</button>
    <button type="button" data-act="hold" aria-pressed="false">Hold</button>
    <button type="button" data-act="hangup" class="danger">Hang up</button>
  </div>
  <details class="keypad-box" open>
    <summary>Keypad (sends tones)</summary>
    <div class="dialpad" data-role="keypad" aria-label="Keypad: sends tones to the far end"></div>
    <p>Sent: <output data-role="digits" aria-live="polite"></output></p>
  </details>
  <form class="transfer" data-role="transfer">
    <label>Transfer to <input name="to" autocomplete="off" placeholder="+15551234567, user:agent2, queue:support"></label>
    <div class="buttons">
      <button type="submit" data-act="blind">Blind transfer</button>
      <button type="button" data-act="consult">Consult first</button>
    </div>
  </form>
  <div class="consult" data-role="consult" hidden>
    <p>Consult call to <strong data-role="consult-peer"></strong>:
      <span data-role="consult-state" role="status" aria-live="polite"></span></p>
    <div class="buttons">
      <button type="button" data-act="complete">Complete transfer</button>
      <button type="button" data-act="cancel-consult" class="danger">Cancel consult</button>
    </div>
  </div>
  <p class="error" data-role="error" role="alert" hidden></p>
  <figure class="quality" data-role="quality-box">
    <figcaption>Call quality, last minute: <span data-role="quality-text" aria-live="off"></span></figcaption>
    <canvas data-role="quality" role="img" aria-label="Graph of jitter, loss, round-trip time and MOS over the last minute"></canvas>
  </figure>
`;

export class CallPanel {
  /**
   * @param {HTMLElement} root the (empty) container
   * @param {{phone: () => import('../sdk/dcx.js').Phone, deviceId: () => string,
   *   log: (text: string) => void, onEnded?: (call: any) => void, quality?: boolean}} ctx
   */
  constructor(root, ctx) {
    this.root = root;
    this.ctx = ctx;
    root.innerHTML = TEMPLATE;
    this.q = (role) => $(`[data-role="${role}"]`, root);
    this.call = null;
    this.consult = null;
    this.offs = [];
    this.chart = new TimeChart(this.q('quality'), {
      windowS: 60,
      series: [
        { key: 'mos', label: 'MOS', color: '#1b7f3b', min: 1, max: 4.5, digits: 2 },
        { key: 'jitter', label: 'Jitter', color: '#8a5a00', unit: 'ms', digits: 1 },
        { key: 'loss', label: 'Loss', color: '#b3261e', unit: '%', digits: 1 },
        { key: 'rtt', label: 'RTT', color: '#1f5fbf', unit: 'ms', digits: 0 },
      ],
    });
    if (ctx.quality === false) this.q('quality-box').hidden = true;
    dialpad(this.q('keypad'), (key) => this.press(key));
    const act = (name, fn) => $(`[data-act="${name}"]`, root).addEventListener('click', fn);
    act('mute', () => this.call && this.call.mute(!this.call.muted));
    act('hold', () => {
      if (!this.call) return;
      if (this.call.state === 'held') this.call.unhold(); else this.call.hold();
    });
    act('hangup', () => this.call && this.call.hangup());
    act('consult', () => this.startConsult());
    act('complete', () => this.completeTransfer());
    act('cancel-consult', () => this.cancelConsult());
    this.q('transfer').addEventListener('submit', (ev) => { ev.preventDefault(); this.blindTransfer(); });
    this.tick = setInterval(() => this.renderTimer(), 500);
  }

  /** Shows `call` (null: nothing). */
  show(call) {
    this.offs.forEach((off) => off());
    this.offs = [];
    this.call = call;
    this.root.hidden = !call;
    if (!call) return;
    say(this.q('error'), null);
    this.q('digits').textContent = '';
    this.chart.clear();
    this.q('quality-text').textContent = 'waiting for media…';
    const on = (type, fn) => this.offs.push(call.on(type, fn));
    on('state', () => this.render());
    on('muted', () => this.render());
    on('error', (e) => say(this.q('error'), errorWords(e)));
    on('quality', (q) => {
      this.chart.push(q);
      this.q('quality-text').textContent = `MOS ${q.mos.toFixed(2)}, jitter ${fmt(q.jitter, 'ms')}, `
        + `loss ${q.loss.toFixed(1)} %, RTT ${fmt(q.rtt, 'ms')}`;
    });
    on('dtmf', ({ digit }) => this.ctx.log(`far end pressed ${digit}`));
    on('ice_restart', ({ phase, reason }) => this.ctx.log(`ICE restart ${phase} (${reason})`));
    on('ended', ({ reason }) => {
      // Joined to the caller by an attended transfer, the consult call ends by itself.
      if (this.consult && reason !== 'transferred') this.consult.hangup();
      this.ctx.onEnded?.(call);
    });
    this.render();
  }

  render() {
    const c = this.call;
    if (!c) return;
    const peer = c.direction === 'incoming' ? callerNumber(c.from) : c.direction === 'supervision' ? `supervising ${c.target}` : c.to;
    this.q('peer').textContent = c.direction === 'incoming' && c.queue ? `${peer} (queue ${c.queue})` : peer;
    this.q('state').textContent = stateWords(c) + (c.muted && !c.ended ? ', muted' : '');
    this.root.dataset.state = c.state;
    const live = c.state === 'connected' || c.state === 'held';
    const mute = $('[data-act="mute"]', this.root);
    mute.textContent = c.muted ? 'Unmute' : 'Mute';
    mute.setAttribute('aria-pressed', String(c.muted));
    mute.disabled = c.ended;
    const hold = $('[data-act="hold"]', this.root);
    hold.textContent = c.state === 'held' ? 'Resume' : 'Hold';
    hold.setAttribute('aria-pressed', String(c.state === 'held'));
    hold.disabled = !live || !!this.consult;
    $('[data-act="hangup"]', this.root).disabled = c.ended;
    for (const b of this.q('keypad').querySelectorAll('button')) b.disabled = !live;
    for (const b of this.q('transfer').querySelectorAll('button')) b.disabled = !live || !!this.consult;
    this.renderTimer();
    this.renderConsult();
  }

  renderTimer() {
    const c = this.call;
    if (!c) return;
    const s = c.answeredAt ? ((c.endedAt || Date.now()) - c.answeredAt) / 1000 : 0;
    this.q('timer').textContent = clock(s);
  }

  press(key) {
    const c = this.call;
    if (!c || !(c.state === 'connected' || c.state === 'held')) return;
    try {
      c.sendDigits(key);
      this.q('digits').textContent += key;
    } catch (e) {
      say(this.q('error'), errorWords(e));
    }
  }

  blindTransfer() {
    const to = this.q('transfer').elements.to.value.trim();
    if (!this.call || !to) { say(this.q('error'), 'Enter where to transfer the call.'); return; }
    this.ctx.log(`blind transfer of ${this.call.id} to ${to}`);
    this.call.transfer(to);
  }

  /** Attended transfer, step 1: hold this call, call the colleague. */
  startConsult() {
    const to = this.q('transfer').elements.to.value.trim();
    if (!this.call || !to) { say(this.q('error'), 'Enter whom to consult.'); return; }
    if (this.call.state === 'connected') this.call.hold();
    const consult = this.ctx.phone().call(to, { deviceId: this.ctx.deviceId() });
    this.consult = consult;
    this.q('consult-peer').textContent = to;
    this.ctx.log(`consult call ${consult.id} to ${to}`);
    consult.on('state', () => this.render());
    consult.on('error', (e) => say(this.q('error'), `Consult call: ${errorWords(e)}`));
    consult.on('ended', ({ reason, sipCode }) => {
      this.ctx.log(`consult call ${consult.id} ended: ${reasonWords(reason, sipCode)}`);
      if (this.consult === consult) this.consult = null;
      this.render();
    });
    this.render();
  }

  /** Attended transfer, step 2: join the held caller and the colleague. */
  completeTransfer() {
    if (!this.call || !this.consult) return;
    this.ctx.log(`attended transfer of ${this.call.id} to call:${this.consult.id}`);
    this.call.transfer(this.consult);
  }

  cancelConsult() {
    if (!this.consult) return;
    this.consult.hangup();
    this.consult = null;
    if (this.call && this.call.state === 'held') this.call.unhold();
    this.render();
  }

  renderConsult() {
    const box = this.q('consult');
    box.hidden = !this.consult;
    if (!this.consult) return;
    this.q('consult-state').textContent = stateWords(this.consult);
    $('[data-act="complete"]', this.root).disabled = this.consult.state !== 'connected' && this.consult.state !== 'ringing';
  }
}

function fmt(v, unit) { return typeof v === 'number' ? `${v.toFixed(v < 10 ? 1 : 0)} ${unit}` : '–'; }

