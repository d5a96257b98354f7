// Clear errors, each from the real gateway: a forged token (dcx's token_invalid), an
// expired one (refused by the page before sending, and dcx's token_expired through the
// SDK), a blocked number (destination_blocked: no SIP leg), a denied microphone, and
// the admin view with a token of another role (403 forbidden).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TOKENS, mintToken, withWorld } from '../lib/fixture.mjs';

const BLOCKED = '19005550100';

test('errors in words: forged and expired tokens, a blocked number, a denied microphone, a non-admin token', async () => {
  await withWorld('errors', 24600, {}, async (w) => {
    const page = w.page;

    // A forged signature: only dcx can tell.
    const forged = `${TOKENS.alice.slice(0, -4)}AAAA`;
    await page.goto(w.url('softphone.html'));
    await page.fill('#token', forged);
    await page.click('#login-form button[type=submit]');
    await page.waitForFunction(() => /Login failed/.test(document.querySelector('#login-error').textContent));
    const forgedText = await page.textContent('#login-error');
    console.log(`forged token: "${forgedText}"`);
    assert.match(forgedText, /the token is not valid/);
    assert.equal(await page.isVisible('#app'), false);

    // Expired: the page says so at once; dcx says token_expired to the SDK too.
    const expired = mintToken('alice', 'softphone', 1000000000);
    await page.fill('#token', expired);
    await page.click('#login-form button[type=submit]');
    const expiredText = await page.textContent('#login-error');
    console.log(`expired token: "${expiredText}"`);
    assert.match(expiredText, /the token has expired/);
    const code = await page.evaluate(async (t) => {
      const { Dcx } = await import('/sdk/dcx.js');
      try { await Dcx.connect(Dcx.defaultUrl(), t); return 'connected'; } catch (e) { return `${e.code}: ${e.reason}`; }
    }, expired);
    console.log(`the SDK with the expired token: ${code}`);
    assert.match(code, /^token_expired: /);

    // A blocked number: refused with the reason, the page says so.
    await page.fill('#token', TOKENS.alice);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#app:not([hidden])');
    await page.fill('#number', BLOCKED);
    await page.click('#call-button');
    await page.waitForFunction(() => window.dcxApp.call?.state === 'ended', null, { timeout: 10000 });
    const blocked = { state: await page.textContent('#call [data-role=state]'), end: await page.evaluate(() => window.dcxApp.call.endInfo) };
    console.log(`blocked number: "${blocked.state}" ${JSON.stringify(blocked.end)}`);
    assert.match(blocked.state, /blocked|premium/);

    // A denied microphone (the browser's NotAllowedError).
    const denied = await w.browser.context.newPage();
    await denied.addInitScript(() => {
      navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
    });
    await w.login('softphone.html', TOKENS.alice, denied);
    await denied.fill('#number', '15551234567');
    await denied.click('#call-button');
    await denied.waitForFunction(() => window.dcxApp.call?.state === 'ended');
    const mic = { state: await denied.textContent('#call [data-role=state]'), box: await denied.textContent('#mic-error') };
    console.log(`denied microphone: "${mic.state}"; "${mic.box}"`);
    assert.match(mic.state, /microphone access was denied/);
    assert.match(mic.box, /allow it in the browser/);

    // The admin view with an agent's token: the API's 403, in words.
    await denied.goto(w.url('admin.html'));
    await denied.fill('#token', TOKENS.agent1);
    await denied.click('#login-form button[type=submit]');
    await denied.waitForFunction(() => /Login failed/.test(document.querySelector('#login-error').textContent));
    const admin = await denied.textContent('#login-error');
    console.log(`admin view with an agent token: "${admin}"`);
    assert.match(admin, /admin tokens only \(403 forbidden\)/);
  });
});
