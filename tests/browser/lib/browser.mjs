// Debian's Chromium driven by playwright-core (it never downloads a browser): a fresh
// profile, a fake microphone playing the test's WAV, loopback ICE allowed.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

/**
 * @param {string} micWav the fake microphone (looped)
 * @returns {Promise<{context: import('playwright-core').BrowserContext, page: import('playwright-core').Page, console: string[], close: () => Promise<void>}>}
 */
export async function launch(micWav) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'dcx-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: false, // --headless=new below: Debian's build, the new headless mode
    viewport: { width: 1100, height: 900 },
    args: [
      '--headless=new', '--no-sandbox', '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${micWav}`,
      '--disable-background-networking', '--allow-loopback-in-peer-connection',
      '--autoplay-policy=no-user-gesture-required', '--hide-scrollbars',
    ],
  });
  const page = context.pages()[0] || await context.newPage();
  const lines = [];
  const listen = (p) => {
    p.on('console', (m) => lines.push(`[${m.type()}] ${m.text()}`));
    p.on('pageerror', (e) => lines.push(`[pageerror] ${e.message}`));
  };
  listen(page);
  context.on('page', listen);
  return {
    context, page, console: lines,
    close: async () => {
      await context.close().catch(() => {});
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Measures, in the page, the strongest frequency of a MediaStream's audio: an
 * AnalyserNode (fftSize 8192, no smoothing), the peak bin refined by parabolic
 * interpolation, sampled every 100 ms for `ms`; returns the median and the level.
 * `streamExpr` is an expression evaluated in the page that gives the stream.
 * @param {import('playwright-core').Page} page @param {string} streamExpr @param {number} [ms]
 */
export async function pagePeakHz(page, streamExpr, ms = 2000) {
  const stream = await page.evaluateHandle(streamExpr);
  return page.evaluate(async ([stream, ms]) => {
    if (!stream) throw new Error('no remote stream');
    const ctx = new AudioContext();
    await ctx.resume();
    const source = ctx.createMediaStreamSource(stream);
    const an = ctx.createAnalyser();
    an.fftSize = 8192;
    an.smoothingTimeConstant = 0;
    source.connect(an);
    const bins = new Float32Array(an.frequencyBinCount);
    const peaks = []; let maxDb = -Infinity;
    const t0 = performance.now();
    while (performance.now() - t0 < ms) {
      await new Promise((r) => setTimeout(r, 100));
      an.getFloatFrequencyData(bins);
      let k = 1;
      for (let i = 2; i < bins.length - 1; i += 1) if (bins[i] > bins[k]) k = i;
      if (bins[k] < -80) continue; // silence
      const [a, b, c] = [bins[k - 1], bins[k], bins[k + 1]];
      const shift = (a - c) / (2 * (a - 2 * b + c)) || 0;
      peaks.push(((k + shift) * ctx.sampleRate) / an.fftSize);
      maxDb = Math.max(maxDb, b);
    }
    source.disconnect();
    await ctx.close();
    peaks.sort((x, y) => x - y);
    return { hz: peaks.length ? peaks[Math.floor(peaks.length / 2)] : null, samples: peaks.length, peakDb: maxDb };
  }, [stream, ms]);
}

/**
 * Measures, in the page, the level (dBFS of the analyser bin, the loudest within 2 bins)
 * of each of `freqs` in a MediaStream's audio, averaged over `ms`: a tone that is there
 * reads around -30 dB, one that is not below -70 dB.
 * @param {import('playwright-core').Page} page @param {string} streamExpr
 * @param {number[]} freqs @param {number} [ms]
 * @returns {Promise<Record<string, number>>}
 */
export async function pageToneLevels(page, streamExpr, freqs, ms = 1500) {
  const stream = await page.evaluateHandle(streamExpr);
  return page.evaluate(async ([stream, freqs, ms]) => {
    if (!stream) throw new Error('no stream');
    const ctx = new AudioContext();
    await ctx.resume();
    const source = ctx.createMediaStreamSource(stream);
    const an = ctx.createAnalyser();
    an.fftSize = 8192;
    an.smoothingTimeConstant = 0;
    source.connect(an);
    const bins = new Float32Array(an.frequencyBinCount);
    const sums = freqs.map(() => 0); let frames = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < ms) {
      await new Promise((r) => setTimeout(r, 100));
      an.getFloatFrequencyData(bins);
      freqs.forEach((f, i) => {
        const k = Math.round((f * an.fftSize) / ctx.sampleRate);
        sums[i] += Math.max(...bins.slice(k - 2, k + 3));
      });
      frames += 1;
    }
    source.disconnect();
    await ctx.close();
    return Object.fromEntries(freqs.map((f, i) => [f, Math.max(-150, sums[i] / frames)]));
  }, [stream, freqs, ms]);
}
