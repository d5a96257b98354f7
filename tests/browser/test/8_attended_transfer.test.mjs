// An attended transfer from the softphone: a call to carrier-b (sipp uas_media_at_hold.xml,
// its socket talking 700 Hz); "Consult first" holds it and calls 16665550000 on
// carrier-c (another sipp and socket, 900 Hz); "Complete transfer" joins the two: both
// calls end "transferred" in the page, and dcx bridges the carriers, each hearing the
// other.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MIC_HZ, TOKENS, withWorld } from '../lib/fixture.mjs';
import { NUMBER, NUMBER_C } from '../lib/procs.mjs';
import { until } from '../lib/wait.mjs';

const B_HZ = 700;
const C_HZ = 900;
const HOLD_HZ = 440;

test('softphone: attended transfer joins the held call and the consult call', async () => {
  await withWorld('attended-transfer', 24700, {}, async (w) => {
    // Held, then resumed by dcx when the transfer joins it (two re-INVITEs).
    const b = await w.carrier('uas_media_at_hold.xml', B_HZ);
    const c = await w.carrierC('uas_media_at.xml', C_HZ);
    const page = w.page;
    await w.login('softphone.html', TOKENS.alice);
    await page.fill('#number', NUMBER);
    await page.click('#call-button');
    await page.waitForFunction(() => window.dcxApp.call?.state === 'connected', null, { timeout: 15000 });
    let t = Date.now();
    await until(() => b.media.toneCount(MIC_HZ, t) >= 25, { timeoutMs: 8000, what: '1 kHz at carrier-b' });

    // Consult: carrier-b is held (hold tone), carrier-c answers and hears the page.
    await page.fill('#call [data-role=transfer] input[name=to]', NUMBER_C);
    t = Date.now();
    await page.click('#call [data-act=consult]');
    await page.waitForFunction(() => window.dcxApp.call.state === 'held' && window.dcxApp.consult?.state === 'connected', null, { timeout: 15000 });
    assert.match(await page.textContent('#call [data-role=consult-state]'), /Connected/);
    await until(() => c.media.toneCount(MIC_HZ, t) >= 25, { timeoutMs: 8000, what: '1 kHz at carrier-c' });
    await until(() => b.media.toneCount(HOLD_HZ, t) >= 10, { timeoutMs: 8000, what: 'the hold tone at carrier-b' });
    console.log(`consulting: carrier-c hears the page (${c.media.toneCount(MIC_HZ, t)} windows of 1 kHz), carrier-b the hold tone (${b.media.toneCount(HOLD_HZ, t)})`);

    // Complete: both calls end "transferred"; the carriers hear each other.
    const ids = await page.evaluate(() => [window.dcxApp.call.id, window.dcxApp.consult.id]);
    await page.click('#call [data-act=complete]');
    const ends = await page.waitForFunction(() => {
      const log = document.querySelector('#log').textContent;
      return window.dcxApp.call.state === 'ended' && /consult call \S+ ended: transferred/.test(log) ? window.dcxApp.call.endInfo : null;
    }, null, { timeout: 10000 }).then((h) => h.jsonValue());
    t = Date.now();
    assert.equal(ends.reason, 'transferred');
    assert.equal(await page.textContent('#call [data-role=state]'), 'Ended: transferred');
    await until(() => b.media.toneCount(C_HZ, t) >= 25 && c.media.toneCount(B_HZ, t) >= 25, { timeoutMs: 8000, what: 'the carriers to hear each other' });
    console.log(`transferred ${ids.join(' to call:')}: carrier-b hears ${b.media.peak(t, 25)} Hz (${b.media.toneCount(C_HZ, t)} windows), carrier-c hears ${c.media.peak(t, 25)} Hz (${c.media.toneCount(B_HZ, t)} windows); 1 kHz since at either: ${b.media.toneCount(MIC_HZ, t + 200) + c.media.toneCount(MIC_HZ, t + 200)}`);
    assert.equal(b.media.toneCount(MIC_HZ, t + 200) + c.media.toneCount(MIC_HZ, t + 200), 0, 'the page has left the call');
  });
});
