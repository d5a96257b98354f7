// The far end's media: a UDP socket of the test that a sipp scenario's SDP points at
// (`-key rtp_port PORT`). It keeps every RTP packet dcx sends (PCMU and RFC 4733
// events), and talks a PCMU tone back to the address dcx's RTP comes from: 20 ms
// packets, the RTP header written here.

import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { decodePcmu, hasTone, peakFrequency, ulawEncode } from './audio.mjs';

const PCMU = 0;
const SAMPLES = 160; // 20 ms at 8 kHz

/**
 * @typedef {object} Packet
 * @property {number} at Date.now() of arrival
 * @property {number} pt @property {number} seq @property {number} ts @property {number} ssrc
 * @property {boolean} marker @property {Buffer} payload
 * @property {{address: string, port: number}} from
 */

export class RtpPeer extends EventEmitter {
  /** @param {number} port */
  static async bind(port) {
    const peer = new RtpPeer(port);
    await new Promise((resolve, reject) => {
      peer.socket.once('error', reject);
      peer.socket.bind(port, '127.0.0.1', resolve);
    });
    return peer;
  }

  constructor(port) {
    super();
    this.port = port;
    /** @type {Packet[]} */ this.packets = [];
    this.remote = null;
    this.socket = dgram.createSocket('udp4');
    this.socket.on('message', (msg, from) => this.onMessage(msg, from));
    this.sent = 0;
    this.talkTimer = null;
  }

  onMessage(b, from) {
    if (b.length < 12 || b[0] >> 6 !== 2) return;
    const pt = b[1] & 0x7f;
    if (pt >= 72 && pt <= 76) return; // RTCP on the same port
    const cc = b[0] & 0x0f;
    let off = 12 + 4 * cc;
    if (b[0] & 0x10) off += 4 + 4 * b.readUInt16BE(off + 2);
    let end = b.length;
    if (b[0] & 0x20) end -= b[b.length - 1];
    /** @type {Packet} */
    const p = {
      at: Date.now(), pt, marker: !!(b[1] & 0x80), seq: b.readUInt16BE(2), ts: b.readUInt32BE(4),
      ssrc: b.readUInt32BE(8), payload: b.subarray(off, end), from: { address: from.address, port: from.port },
    };
    this.packets.push(p);
    if (!this.remote) { this.remote = p.from; this.emit('remote', p.from); }
    this.emit('packet', p);
  }

  /**
   * Sends a PCMU sine of `hz` every 20 ms to where dcx's RTP comes from (once it comes),
   * paced by the clock so the rate stays 50 packets/s.
   */
  talk(hz, amplitude = 8000) {
    this.silence();
    const ssrc = 0x1234abcd; let seq = 1000; let ts = 0; let phase = 0;
    const start = Date.now(); let due = 0;
    const sendOne = () => {
      const h = Buffer.alloc(12);
      h[0] = 0x80; h[1] = PCMU; h.writeUInt16BE(seq & 0xffff, 2); h.writeUInt32BE(ts >>> 0, 4); h.writeUInt32BE(ssrc, 8);
      const body = Buffer.alloc(SAMPLES);
      for (let i = 0; i < SAMPLES; i += 1) {
        body[i] = ulawEncode(amplitude * Math.sin(phase));
        phase += (2 * Math.PI * hz) / 8000;
      }
      phase %= 2 * Math.PI;
      this.socket.send(Buffer.concat([h, body]), this.remote.port, this.remote.address);
      seq += 1; ts += SAMPLES; this.sent += 1;
    };
    this.talkTimer = setInterval(() => {
      if (!this.remote) return;
      const target = Math.floor((Date.now() - start) / 20);
      if (due === 0) due = target; // start from now, not from the bind
      while (due <= target) { sendOne(); due += 1; }
    }, 10);
  }

  /** Stops talking. */
  silence() { clearInterval(this.talkTimer); this.talkTimer = null; }

  /** PCMU packets since `t`. */
  audio(since = 0) { return this.packets.filter((p) => p.pt === PCMU && p.at >= since); }

  /** How many PCMU packets since `t` carry `hz` (as `minShare` of their energy at least). */
  toneCount(hz, since = 0, minShare = 0.5) {
    return this.audio(since).filter((p) => hasTone(decodePcmu(p.payload), hz, minShare)).length;
  }

  /** The strongest frequency of the last `n` PCMU packets (since `t`). */
  peak(since = 0, n = 50) {
    const pk = this.audio(since).slice(-n);
    const all = new Float64Array(pk.length * SAMPLES);
    let o = 0;
    for (const p of pk) { all.set(decodePcmu(p.payload), o); o += p.payload.length; }
    return peakFrequency(all.subarray(0, o));
  }

  /** RFC 4733 events (payload type `pt`) since `t`, decoded. */
  events(pt = 101, since = 0) {
    return this.packets.filter((p) => p.pt === pt && p.at >= since && p.payload.length >= 4).map((p) => ({
      at: p.at, seq: p.seq, ts: p.ts, marker: p.marker, event: p.payload[0], end: !!(p.payload[1] & 0x80),
      volume: p.payload[1] & 0x3f, duration: p.payload.readUInt16BE(2),
    }));
  }

  close() { this.silence(); try { this.socket.close(); } catch { /* closed */ } }
}

/** Key presses of a list of RFC 4733 packets: one per distinct timestamp, in order. */
export function keyPresses(events) {
  const byTs = new Map();
  for (const e of events) {
    const k = byTs.get(e.ts) || { event: e.event, ts: e.ts, packets: 0, ended: false, duration: 0 };
    k.packets += 1; k.ended ||= e.end; k.duration = Math.max(k.duration, e.duration);
    byTs.set(e.ts, k);
  }
  return [...byTs.values()];
}
