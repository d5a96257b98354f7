// The softphone calls a number dcx routes to a SIP carrier (sipp, uas_media_at.xml) whose
// media is a socket of this test: the carrier hears the page's 1 kHz microphone (PCMU,
// Goertzel), the page hears the carrier's 440 Hz (AnalyserNode on the remote track),
// the page shows the states in words and the quality graph, then hangs up: "Ended".

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pagePeakHz } from '../lib/browser.mjs';
import { MIC_HZ, TOKENS, withWorld } from '../lib/fixture.mjs';
import { NUMBER } from '../lib/procs.mjs';
import { until } from '../lib/wait.mjs';

const CARRIER_HZ = 440;

test('softphone: a call to a carrier with audio both ways, states in words, hang-up', async () => {
  await withWorld('softphone-audio', 24000, {}, async (w) => {
    const { sipp, media } = await w.carrier('uas_media_at.xml', CARRIER_HZ);
    const page = w.page;
    await w.login('softphone.html', TOKENS.alice);
    assert.match(await page.textContent('#conn'), /Connected as alice \(softphone\)/);

    const dialed = Date.now();
    // Typed on the dialpad's buttons, as a user would.
    for (const key of NUMBER) await page.click(`#dialpad [data-key="${key}"]`);
    assert.equal(await page.inputValue('#number'), NUMBER);
    await page.click('#call-button');
    await page.waitForFunction(() => window.dcxApp.call?.state === 'connected', null, { timeout: 15000 });
    const connectMs = Date.now() - dialed;
    assert.equal(await page.textContent('#call [data-role=state]'), 'Connected');
    const log = await page.textContent('#log');
    assert.match(log, /: trying/);
    assert.match(log, /: ringing/, 'the carrier sent 180: the page said ringing');

    // The carrier hears the microphone: a second of 20 ms windows with 1 kHz.
    const answered = Date.now();
    await until(() => media.toneCount(MIC_HZ, answered) >= 50, { timeoutMs: 10000, what: '1 kHz at the carrier' });
    const atCarrier = media.peak(answered);
    const windows = media.audio(answered).length;
    console.log(`carrier heard: peak ${atCarrier} Hz, ${media.toneCount(MIC_HZ, answered)} of ${windows} PCMU packets with 1 kHz, from ${media.remote.address}:${media.remote.port}`);
    assert.ok(Math.abs(atCarrier - MIC_HZ) <= 20, `the carrier's peak is ${atCarrier} Hz`);

    // The page hears the carrier.
    const heard = await pagePeakHz(page, 'window.dcxApp.call.remoteStream', 2000);
    console.log(`page heard: ${heard.hz?.toFixed(1)} Hz (median of ${heard.samples} analyser frames, peak ${heard.peakDb.toFixed(1)} dB); carrier sent ${media.sent} packets`);
    assert.ok(heard.hz && Math.abs(heard.hz - CARRIER_HZ) <= 15, `the page's peak is ${heard.hz} Hz`);

    // Quality samples every second, drawn, and sane on loopback.
    const q = await page.waitForFunction(() => {
      const c = window.dcxApp.call;
      return c.quality && c.quality.packetsReceived > 100 ? c.quality : null;
    }, null, { timeout: 10000 }).then((h) => h.jsonValue());
    console.log(`quality: MOS ${q.mos.toFixed(2)}, jitter ${q.jitter?.toFixed(1)} ms, loss ${q.loss.toFixed(1)} %, RTT ${q.rtt?.toFixed(1)} ms, ${q.packetsReceived} received, ${q.packetsSent} sent`);
    assert.ok(q.mos > 4 && q.mos <= 4.5, `MOS ${q.mos}`);
    assert.ok(q.loss < 2, `loss ${q.loss}`);
    assert.match(await page.textContent('#call [data-role=quality-text]'), /MOS \d\.\d\d/);
    const timer = await page.textContent('#call [data-role=timer]');
    assert.match(timer, /^0:0[1-9]$|^0:[1-5]\d$/, `the call timer runs: ${timer}`);

    // A few seconds of the graph in the screenshot.
    await page.waitForFunction(() => window.dcxApp.call.durationS >= 6, null, { timeout: 10000 });
    const shot = await w.screenshot('softphone-in-call.png');
    console.log(`screenshot: ${shot}`);
    // A phone-sized screen: one column, nothing wider than the screen.
    await page.setViewportSize({ width: 375, height: 800 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.equal(overflow, 0, 'no horizontal scrolling at 375 px');
    console.log(`screenshot: ${await w.screenshot('softphone-in-call-narrow.png')}`);
    await page.setViewportSize({ width: 1100, height: 900 });

    await page.click('#call [data-act=hangup]');
    await page.waitForFunction(() => window.dcxApp.call?.state === 'ended', null, { timeout: 10000 });
    assert.equal(await page.textContent('#call [data-role=state]'), 'Ended: you hung up');
    await sipp.success(); // it got the BYE and answered it
    console.log(`connect took ${connectMs} ms`);
  });
});
