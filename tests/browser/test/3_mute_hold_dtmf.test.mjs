// In a call from the softphone (carrier: sipp uas_media_at_hold.xml, media at this
// test's socket): Mute silences the page's 1 kHz at the carrier and Unmute brings it
// back; Hold re-INVITEs the carrier with a=sendonly (sipp checks it, and its message
// log shows it), the carrier hears dcx's hold tone and the page says "On hold"; Resume
// re-INVITEs a=sendrecv; keypad digits reach the carrier as RFC 4733 events on 101.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MIC_HZ, TOKENS, withWorld } from '../lib/fixture.mjs';
import { NUMBER } from '../lib/procs.mjs';
import { keyPresses } from '../lib/rtp.mjs';
import { hasTone } from '../lib/audio.mjs';
import { decodePcmu } from '../lib/audio.mjs';
import { until } from '../lib/wait.mjs';

/** What the carrier says: not 440 Hz, which is dcx's hold tone toward it. */
const CARRIER_HZ = 700;
const HOLD_HZ = 440;
/** The carrier's telephone-event payload type (uas_media_at_hold.xml). */
const EVENT_PT = 101;

/** The last `n` PCMU packets since `t` all lack `hz`: returns them, else null. */
function lastWithout(media, hz, t, n) {
  const a = media.audio(t);
  if (a.length < n) return null;
  const tail = a.slice(-n);
  return tail.every((p) => !hasTone(decodePcmu(p.payload), hz)) ? tail : null;
}

test('softphone: mute silences the microphone at the carrier, hold re-INVITEs sendonly, keypad sends RFC 4733', async () => {
  await withWorld('mute-hold-dtmf', 24200, {}, async (w) => {
    const { sipp, media } = await w.carrier('uas_media_at_hold.xml', CARRIER_HZ);
    const page = w.page;
    await w.login('softphone.html', TOKENS.alice);
    await page.fill('#number', NUMBER);
    await page.press('#number', 'Enter');
    await page.waitForFunction(() => window.dcxApp.call?.state === 'connected', null, { timeout: 15000 });
    let t = Date.now();
    await until(() => media.toneCount(MIC_HZ, t) >= 25, { timeoutMs: 10000, what: '1 kHz at the carrier' });

    // Mute: the 1 kHz goes, packets keep coming (silence), then Unmute brings it back.
    const muted = Date.now();
    await page.click('#call [data-act=mute]');
    assert.match(await page.textContent('#call [data-role=state]'), /Connected, muted/);
    assert.equal(await page.getAttribute('#call [data-act=mute]', 'aria-pressed'), 'true');
    await until(() => lastWithout(media, MIC_HZ, muted, 10), { timeoutMs: 5000, what: 'the 1 kHz to stop' });
    const silentFrom = Date.now();
    const quiet = await until(() => lastWithout(media, MIC_HZ, silentFrom, 50), { timeoutMs: 5000, what: 'a second without 1 kHz' });
    console.log(`muted: the 1 kHz stopped ${silentFrom - muted} ms after the click; then ${quiet.length} packets in a row without it (${media.toneCount(MIC_HZ, silentFrom)} with it)`);
    const unmuted = Date.now();
    await page.click('#call [data-act=mute]');
    await until(() => media.toneCount(MIC_HZ, unmuted) >= 25, { timeoutMs: 5000, what: '1 kHz back after unmute' });
    console.log(`unmuted: 1 kHz back in ${Date.now() - unmuted} ms (25 windows)`);

    // Hold: dcx re-INVITEs the carrier sendonly and plays it the hold tone.
    const held = Date.now();
    await page.click('#call [data-act=hold]');
    await page.waitForFunction(() => document.querySelector('#call [data-role=state]').textContent === 'On hold');
    await until(() => media.toneCount(HOLD_HZ, held) >= 25, { timeoutMs: 8000, what: 'the hold tone at the carrier' });
    const holdPeak = media.peak(held, 25);
    console.log(`held: the carrier hears ${holdPeak} Hz (hold tone) ${Date.now() - held} ms after the click; ${media.toneCount(MIC_HZ, held)} windows of 1 kHz since`);
    assert.ok(Math.abs(holdPeak - HOLD_HZ) <= 20);
    assert.equal(await page.textContent('#call [data-act=hold]'), 'Resume');
    const resumed = Date.now();
    await page.click('#call [data-act=hold]');
    await page.waitForFunction(() => document.querySelector('#call [data-role=state]').textContent === 'Connected');
    await until(() => media.toneCount(MIC_HZ, resumed) >= 25, { timeoutMs: 8000, what: '1 kHz after resume' });
    console.log(`resumed: 1 kHz back at the carrier in ${Date.now() - resumed} ms`);

    // The keypad: 1, 2, # as RFC 4733 events 1, 2, 11 on payload type 101; pressed with
    // the keyboard (Enter on a focused key, a digit typed) and the mouse.
    t = Date.now();
    await page.focus('#call [data-role=keypad] [data-key="1"]');
    await page.keyboard.press('Enter');
    await page.keyboard.press('2');
    await page.click('#call [data-role=keypad] [data-key="#"]');
    assert.equal(await page.textContent('#call [data-role=digits]'), '12#');
    const presses = await until(() => {
      const k = keyPresses(media.events(EVENT_PT, t));
      return k.length >= 3 && k.every((x) => x.ended) ? k : null;
    }, { timeoutMs: 8000, what: 'three RFC 4733 key presses' });
    console.log(`keypad at the carrier: ${presses.map((k) => `event ${k.event} (${k.packets} packets, duration ${k.duration} ticks)`).join(', ')}`);
    assert.deepEqual(presses.map((k) => k.event), [1, 2, 11]);

    await page.click('#call [data-act=hangup]');
    await page.waitForFunction(() => window.dcxApp.call.state === 'ended');
    await sipp.success(); // its ereg checks: sendonly in the first re-INVITE, sendrecv in the second
    const invites = sipp.messages().split(/\n(?=-{10,})/).filter((m) => /INVITE sip:/.test(m));
    const directions = invites.map((m) => (/a=(sendonly|sendrecv|recvonly|inactive)/.exec(m) || [, 'sendrecv (default)'])[1]);
    console.log(`INVITEs at the carrier: ${invites.length}, directions ${directions.join(', ')}`);
    assert.ok(directions.includes('sendonly'), 'a re-INVITE with a=sendonly');
  });
});
