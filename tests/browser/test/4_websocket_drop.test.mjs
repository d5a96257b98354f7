// The page's WebSocket is dropped mid-call (page.routeWebSocket, then route.close()):
// the SDK reconnects by itself with the resume token, the session and the call survive,
// the carrier still hears the page's 1 kHz, and the call is still controlled over the
// new socket (an ICE restart by `update`/`updated`, then the hang-up reaches the carrier).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pagePeakHz } from '../lib/browser.mjs';
import { MIC_HZ, TOKENS, withWorld } from '../lib/fixture.mjs';
import { NUMBER } from '../lib/procs.mjs';
import { until } from '../lib/wait.mjs';

const CARRIER_HZ = 440;

test('softphone: a dropped WebSocket resumes the session and the call goes on with audio', async () => {
  await withWorld('ws-drop', 24300, {}, async (w) => {
    const { sipp, media } = await w.carrier('uas_media_at.xml', CARRIER_HZ);
    const page = w.page;
    /** @type {import('playwright-core').WebSocketRoute[]} */
    const routes = [];
    await page.routeWebSocket(/\/ws$/, (route) => { routes.push(route); route.connectToServer(); });
    await w.login('softphone.html', TOKENS.alice);
    await page.fill('#number', NUMBER);
    await page.click('#call-button');
    await page.waitForFunction(() => window.dcxApp.call?.state === 'connected', null, { timeout: 15000 });
    const t0 = Date.now();
    await until(() => media.toneCount(MIC_HZ, t0) >= 25, { timeoutMs: 10000, what: '1 kHz at the carrier' });
    const before = await page.evaluate(() => ({ session: window.dcxApp.phone.sessionId, call: window.dcxApp.call.id }));
    assert.equal(routes.length, 1);

    // Drop it: the page sees the close (as on a network cut) and reconnects.
    const dropped = Date.now();
    await routes[0].close({ code: 4001, reason: 'test drops the socket' });
    await page.waitForFunction(() => window.dcxApp.phone.reconnects >= 1 && window.dcxApp.phone.status === 'connected', null, { timeout: 15000 });
    const back = Date.now();
    const after = await page.evaluate(() => ({
      session: window.dcxApp.phone.sessionId, call: window.dcxApp.call.id, state: window.dcxApp.call.state,
      badge: document.querySelector('#conn').textContent, log: document.querySelector('#log').textContent,
    }));
    console.log(`dropped: back after ${back - dropped} ms on socket #${routes.length}; session ${after.session}; badge "${after.badge}"`);
    assert.equal(routes.length, 2, 'one new WebSocket');
    assert.equal(after.session, before.session, 'the same session (resumed)');
    assert.equal(after.state, 'connected');
    assert.match(after.log, /session resumed with 1 call/);
    assert.match(after.badge, /session resumed/);

    // The call's audio, after the reconnect.
    await until(() => media.toneCount(MIC_HZ, back) >= 50, { timeoutMs: 8000, what: '1 kHz after the reconnect' });
    console.log(`after the reconnect the carrier heard ${media.toneCount(MIC_HZ, back)} windows of 1 kHz (peak ${media.peak(back)} Hz); packets kept coming while the socket was down: ${media.audio(dropped).filter((p) => p.at < back).length}`);

    // An ICE restart over the new socket (as on a network change), and the audio after it.
    const restart = page.evaluate(() => new Promise((resolve) => {
      const c = window.dcxApp.call;
      const off = c.on('ice_restart', ({ phase }) => { if (phase !== 'started') { off(); resolve(phase); } });
      c.restartIce('test');
    }));
    assert.equal(await restart, 'done', 'update answered by updated');
    const restarted = Date.now();
    await until(() => media.toneCount(MIC_HZ, restarted) >= 25, { timeoutMs: 8000, what: '1 kHz after the ICE restart' });
    const heard = await pagePeakHz(page, 'window.dcxApp.call.remoteStream', 1500);
    console.log(`after the ICE restart: the carrier hears 1 kHz again (${media.toneCount(MIC_HZ, restarted)} windows), the page hears ${heard.hz?.toFixed(1)} Hz`);
    assert.ok(heard.hz && Math.abs(heard.hz - CARRIER_HZ) <= 15);

    await page.click('#call [data-act=hangup]');
    await page.waitForFunction(() => window.dcxApp.call.state === 'ended');
    assert.equal(await page.textContent('#call [data-role=state]'), 'Ended: you hung up');
    await sipp.success();
  });
});
