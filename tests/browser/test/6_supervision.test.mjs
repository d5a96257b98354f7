// Supervision from the agent console: agent1 (fake microphone 1 kHz) takes a caller's
// call (sipp uac_queue_wait_bye.xml, the caller's socket talking 600 Hz); a supervisor
// (a second Chromium, microphone 1500 Hz; a token minted with the demo key) picks the
// call in the console's live calls and listens: it hears both parties, nobody hears it;
// whisper: the agent hears it, the caller does not; barge: the caller hears it too;
// leave: the call goes on.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pageToneLevels } from '../lib/browser.mjs';
import { MIC_HZ, TOKENS, mintToken, withWorld } from '../lib/fixture.mjs';
import { until } from '../lib/wait.mjs';

const CALLER_HZ = 600;
const SUPERVISOR_HZ = 1500;
/** An analyser bin louder than this has the tone (silence reads below -90 dB). */
const PRESENT_DB = -65;
/** The supervisor's share of a caller's window while the agent talks too. */
const MIXED_SHARE = 0.15;

const fmt = (levels) => Object.entries(levels).map(([f, db]) => `${f} Hz ${db.toFixed(0)} dB`).join(', ');

test('agent console: a supervisor listens, whispers and barges on a live call', async () => {
  await withWorld('supervision', 24500, {}, async (w) => {
    const agent = w.page;
    await w.login('agent.html', TOKENS.agent1);
    await agent.click('#status-switch [data-state=available]');
    await agent.waitForFunction(() => document.querySelector('#status-now').dataset.state === 'available');
    const { sipp, media } = await w.caller('uac_queue_wait_bye.xml', CALLER_HZ);
    await agent.waitForSelector('#offer:not([hidden])', { timeout: 10000 });
    await agent.click('#offer-accept');
    await agent.waitForFunction(() => window.dcxApp.call?.state === 'connected', null, { timeout: 10000 });
    const callId = await agent.evaluate(() => window.dcxApp.call.id);

    const sup = (await w.anotherBrowser(SUPERVISOR_HZ)).page;
    await w.login('agent.html', mintToken('boss', 'supervisor'), sup);
    assert.equal(await sup.isVisible('#supervise'), true, 'a supervisor sees the supervision card');
    // Its own token reads the live calls (GET /api/v1/calls takes supervisor tokens).
    await sup.waitForSelector(`#live-calls tr[data-call="${callId}"] button:not([disabled])`, { timeout: 10000 });
    assert.equal(await sup.isVisible('#board-form'), false, 'no admin token asked for');

    // Listen: the supervisor hears both, nobody hears the supervisor.
    await sup.click(`#live-calls tr[data-call="${callId}"] button[aria-label="listen on ${callId}"]`);
    await sup.waitForFunction(() => window.dcxApp.supervision?.state === 'connected', null, { timeout: 10000 });
    await sup.waitForFunction(() => window.dcxApp.supervision.remoteStream);
    const listen = await pageToneLevels(sup, 'window.dcxApp.supervision.remoteStream', [CALLER_HZ, MIC_HZ, SUPERVISOR_HZ]);
    const listenAtAgent = await pageToneLevels(agent, 'window.dcxApp.call.remoteStream', [CALLER_HZ, SUPERVISOR_HZ]);
    let t = Date.now() - 1500;
    console.log(`listen: supervisor hears ${fmt(listen)}; agent hears ${fmt(listenAtAgent)}; caller windows with 1500 Hz: ${media.toneCount(SUPERVISOR_HZ, t, MIXED_SHARE)}`);
    assert.ok(listen[CALLER_HZ] > PRESENT_DB && listen[MIC_HZ] > PRESENT_DB, 'the supervisor hears caller and agent');
    assert.ok(listenAtAgent[SUPERVISOR_HZ] < PRESENT_DB, 'the agent does not hear a listening supervisor');
    assert.equal(media.toneCount(SUPERVISOR_HZ, t, MIXED_SHARE), 0, 'the caller does not hear a listening supervisor');

    // Whisper: the agent hears the supervisor, the caller does not.
    await sup.click('#sup-modes [data-mode=whisper]');
    assert.equal(await sup.getAttribute('#sup-modes [data-mode=whisper]', 'aria-pressed'), 'true');
    const whisper = await until(async () => {
      const l = await pageToneLevels(agent, 'window.dcxApp.call.remoteStream', [CALLER_HZ, SUPERVISOR_HZ], 500);
      return l[SUPERVISOR_HZ] > PRESENT_DB ? l : null;
    }, { timeoutMs: 8000, what: 'the agent to hear the whisper' });
    t = Date.now();
    const whisperAtAgent = await pageToneLevels(agent, 'window.dcxApp.call.remoteStream', [CALLER_HZ, SUPERVISOR_HZ], 1000);
    console.log(`whisper: agent hears ${fmt(whisperAtAgent)} (first ${fmt(whisper)}); caller windows with 1500 Hz over ${media.audio(t).length}: ${media.toneCount(SUPERVISOR_HZ, t, MIXED_SHARE)}`);
    assert.ok(whisperAtAgent[CALLER_HZ] > PRESENT_DB && whisperAtAgent[SUPERVISOR_HZ] > PRESENT_DB);
    assert.equal(media.toneCount(SUPERVISOR_HZ, t, MIXED_SHARE), 0, 'the caller does not hear a whisper');

    // Barge: the caller hears the supervisor too.
    t = Date.now();
    await sup.click('#sup-modes [data-mode=barge]');
    await until(() => media.toneCount(SUPERVISOR_HZ, t, MIXED_SHARE) >= 25, { timeoutMs: 8000, what: 'the caller to hear the barge' });
    console.log(`barge: the caller hears the supervisor in ${media.toneCount(SUPERVISOR_HZ, t, MIXED_SHARE)} windows (and the agent's 1 kHz in ${media.toneCount(MIC_HZ, t, MIXED_SHARE)}) of ${media.audio(t).length}`);

    // Leave: the supervision ends, the call does not.
    await sup.click('#sup-leave');
    await sup.waitForFunction(() => window.dcxApp.supervision === null, null, { timeout: 10000 });
    t = Date.now();
    await until(() => media.toneCount(MIC_HZ, t) >= 25, { timeoutMs: 8000, what: "the agent's voice alone after the supervisor left" });
    assert.equal(await agent.evaluate(() => window.dcxApp.call.state), 'connected');
    assert.equal(media.toneCount(SUPERVISOR_HZ, t + 500, MIXED_SHARE), 0);
    await agent.click('#call [data-act=hangup]');
    await sipp.success();
  });
});
