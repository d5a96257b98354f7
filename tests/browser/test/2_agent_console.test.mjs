// The agent console: agent1 logs in with its demo token and goes available; a PSTN
// caller (sipp uac_queue_wait_bye.xml, media at this test's socket) dials the DID; the
// console shows the offer with the caller and the queue and rings; Accept: audio both
// ways (the caller hears the agent's 1 kHz, the page the caller's 600 Hz); Hang up: the
// caller gets the BYE, the console shows wrap-up counting down, then available again,
// and the call is in the session's history.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pagePeakHz } from '../lib/browser.mjs';
import { MIC_HZ, TOKENS, withWorld } from '../lib/fixture.mjs';
import { until } from '../lib/wait.mjs';

const CALLER_HZ = 600;
const HOLD_HZ = 440;
const WRAP_UP_S = 4;

test('agent console: offer with caller and queue, accept, audio, hang-up, wrap-up countdown, history', async () => {
  await withWorld('agent-console', 24100, { wrapUpS: WRAP_UP_S }, async (w) => {
    const page = w.page;
    await w.login('agent.html', TOKENS.agent1);
    assert.match(await page.textContent('#conn'), /Connected as agent1 \(agent\)/);
    // An agent token cannot read the REST API: the board says so instead of showing.
    assert.equal(await page.isVisible('#board-body'), false);
    assert.match(await page.textContent('#board-note'), /supervisor.*admin.*tokens/s);

    await page.click('#status-switch [data-state=available]');
    await page.waitForFunction(() => document.querySelector('#status-now').dataset.state === 'available');
    assert.equal(await page.getAttribute('#status-switch [data-state=available]', 'aria-pressed'), 'true');

    const { sipp, media } = await w.caller('uac_queue_wait_bye.xml', CALLER_HZ);
    const dialed = Date.now();
    await page.waitForSelector('#offer:not([hidden])', { timeout: 10000 });
    const offer = { from: await page.textContent('#offer-from'), queue: await page.textContent('#offer-queue'), ringing: await page.evaluate(() => window.dcxApp.ringing) };
    console.log(`offer after ${Date.now() - dialed} ms: "${offer.from}", "${offer.queue}", ringing ${offer.ringing}`);
    assert.equal(offer.from, 'Call from sipp');
    assert.equal(offer.queue, 'Queue: support');
    assert.equal(offer.ringing, true, 'the ring sound plays');
    // While it waits the caller hears the hold tone.
    await until(() => media.toneCount(HOLD_HZ, dialed) >= 10, { timeoutMs: 5000, what: 'the hold tone at the caller' });

    await page.click('#offer-accept');
    await page.waitForFunction(() => window.dcxApp.call?.state === 'connected', null, { timeout: 10000 });
    assert.equal(await page.evaluate(() => window.dcxApp.ringing), false, 'the ring stopped');
    assert.equal(await page.textContent('#call [data-role=peer]'), 'sipp (queue support)');
    await page.waitForFunction(() => document.querySelector('#status-now').dataset.state === 'busy');

    const accepted = Date.now();
    await until(() => media.toneCount(MIC_HZ, accepted) >= 50, { timeoutMs: 10000, what: "the agent's 1 kHz at the caller" });
    console.log(`caller heard the agent: peak ${media.peak(accepted)} Hz, ${media.toneCount(MIC_HZ, accepted)} windows of 1 kHz since the accept (${media.toneCount(HOLD_HZ, dialed)} of hold tone before)`);
    const heard = await pagePeakHz(page, 'window.dcxApp.call.remoteStream', 1500);
    console.log(`agent heard the caller: ${heard.hz?.toFixed(1)} Hz`);
    assert.ok(heard.hz && Math.abs(heard.hz - CALLER_HZ) <= 15, `the agent's peak is ${heard.hz} Hz`);

    await page.click('#call [data-act=hangup]');
    await page.waitForFunction(() => window.dcxApp.call.state === 'ended');
    assert.equal(await page.textContent('#call [data-role=state]'), 'Ended: you hung up');
    // Wrap-up, counting down from dcx's wrap_up_remaining_s, then available again.
    const first = await page.waitForFunction(() => {
      const m = /^Wrap-up: (\d+) s left$/.exec(document.querySelector('#status-now').textContent);
      return m ? Number(m[1]) : null;
    }, null, { timeout: 5000 }).then((h) => h.jsonValue());
    const wrapStart = Date.now();
    const later = await page.waitForFunction((n) => {
      const m = /^Wrap-up: (\d+) s left$/.exec(document.querySelector('#status-now').textContent);
      return m && Number(m[1]) < n ? Number(m[1]) : null;
    }, first, { timeout: 3000 }).then((h) => h.jsonValue());
    await page.waitForFunction(() => document.querySelector('#status-now').dataset.state === 'available', null, { timeout: (WRAP_UP_S + 3) * 1000 });
    console.log(`wrap-up: ${first} s, then ${later} s, available again after ${Date.now() - wrapStart} ms`);
    assert.ok(first <= WRAP_UP_S && first >= WRAP_UP_S - 1, `wrap-up started at ${first}`);

    // The session's history has the call.
    const row = await page.$$eval('#history tbody tr', (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent)));
    console.log(`history: ${JSON.stringify(row)}`);
    assert.equal(row.length, 1);
    assert.equal(row[0][1], 'sipp');
    assert.equal(row[0][2], 'support');
    assert.equal(row[0][4], 'you hung up');
    assert.match(row[0][3], /^0:0[1-9]$/);
    await sipp.success(); // the caller got dcx's BYE and answered it
  });
});
