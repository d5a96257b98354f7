// Audio for the tests: the fake microphone's WAV, G.711 mu-law, and frequency
// measurement (Goertzel) of decoded PCMU.

import fs from 'node:fs';

/**
 * Writes a mono 16-bit PCM WAV of a sine (the fake microphone Chromium loops).
 * @param {string} file @param {{hz: number, seconds?: number, rate?: number, amplitude?: number}} o
 */
export function writeSineWav(file, { hz, seconds = 4, rate = 48000, amplitude = 0.5 }) {
  const n = Math.round(seconds * rate);
  const data = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i += 1) {
    data.writeInt16LE(Math.round(amplitude * 32767 * Math.sin((2 * Math.PI * hz * i) / rate)), i * 2);
  }
  const h = Buffer.alloc(44);
  h.write('RIFF', 0); h.writeUInt32LE(36 + data.length, 4); h.write('WAVE', 8);
  h.write('fmt ', 12); h.writeUInt32LE(16, 16); h.writeUInt16LE(1, 20); h.writeUInt16LE(1, 22);
  h.writeUInt32LE(rate, 24); h.writeUInt32LE(rate * 2, 28); h.writeUInt16LE(2, 32); h.writeUInt16LE(16, 34);
  h.write('data', 36); h.writeUInt32LE(data.length, 40);
  fs.writeFileSync(file, Buffer.concat([h, data]));
  return file;
}

/** G.711 mu-law byte to a 16-bit sample. */
export function ulawDecode(u) {
  u = ~u & 0xff;
  const sign = u & 0x80; const exponent = (u >> 4) & 0x07; const mantissa = u & 0x0f;
  const magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
  return sign ? -magnitude : magnitude;
}

/** A 16-bit sample to a G.711 mu-law byte. */
export function ulawEncode(sample) {
  const BIAS = 0x84; const CLIP = 32635;
  let s = Math.max(-32768, Math.min(32767, Math.round(sample)));
  const sign = s < 0 ? 0x80 : 0;
  if (s < 0) s = -s;
  if (s > CLIP) s = CLIP;
  s += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent -= 1;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

/** Decodes a PCMU payload to samples. */
export function decodePcmu(payload) {
  const out = new Float64Array(payload.length);
  for (let i = 0; i < payload.length; i += 1) out[i] = ulawDecode(payload[i]);
  return out;
}

/** |X(f)|^2 by Goertzel over `x` at sample rate `rate`. */
export function goertzel(x, hz, rate = 8000) {
  const w = (2 * Math.PI * hz) / rate; const c = 2 * Math.cos(w);
  let s1 = 0; let s2 = 0;
  for (let i = 0; i < x.length; i += 1) { const s0 = x[i] + c * s1 - s2; s2 = s1; s1 = s0; }
  return s1 * s1 + s2 * s2 - c * s1 * s2;
}

/** RMS of samples. */
export function rms(x) {
  let e = 0;
  for (const v of x) e += v * v;
  return x.length ? Math.sqrt(e / x.length) : 0;
}

/**
 * How much of a window's energy is at `hz`: 1 for a pure tone on a bin, ~0 for silence
 * or another tone.
 */
export function toneShare(x, hz, rate = 8000) {
  let e = 0;
  for (const v of x) e += v * v;
  if (e === 0) return 0;
  return goertzel(x, hz, rate) / (e * (x.length / 2));
}

/** Whether a 20 ms PCMU window carries `hz` (`minShare` of its energy: most, by default; and not quiet). */
export function hasTone(samples, hz, minShare = 0.5, minRms = 300) {
  return rms(samples) >= minRms && toneShare(samples, hz) >= minShare;
}

/** The strongest frequency (10 Hz steps, 100 to 3500 Hz) of a stretch of samples. */
export function peakFrequency(x, rate = 8000) {
  let best = 0; let bestHz = 0;
  for (let hz = 100; hz <= 3500; hz += 10) {
    const p = goertzel(x, hz, rate);
    if (p > best) { best = p; bestHz = hz; }
  }
  return bestHz;
}
