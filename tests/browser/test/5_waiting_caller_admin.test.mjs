// A caller waits in the queue while agent1 is away: the agent console's queue board
// (shown with an admin token: the REST API takes no other) lists the caller with its
// growing wait and the agents' states; screenshot. Then the admin view: trunk health up
// and down (OPTIONS answered 200 and 503 by sockets of this test), the waiting call in
// the live calls and the active-calls chart, a deck upload refused with its problems
// and one compiled; screenshot; hanging the call up from there ends the caller's call.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TOKENS, withWorld } from '../lib/fixture.mjs';
import { optionsResponder } from '../lib/sip_options.mjs';
import { ports } from '../lib/procs.mjs';
import { until } from '../lib/wait.mjs';

const BASE = 24400;
const P = ports(BASE);

test('agent console with a waiting caller on the queue board; the admin view', async () => {
  const up = await optionsResponder(P.probeUp, 200);
  const down = await optionsResponder(P.probeDown, 503);
  try {
    await withWorld('waiting-caller', BASE, { probed: { 'carrier-up': P.probeUp, 'carrier-down': P.probeDown } }, async (w) => {
      const page = w.page;
      await w.login('agent.html', TOKENS.agent1);
      await page.click('#status-switch [data-state=away]');
      await page.waitForFunction(() => document.querySelector('#status-now').dataset.state === 'away');
      assert.equal(await page.isVisible('#board-note'), true, 'the board explains why it is hidden');
      await page.fill('#board-token', TOKENS.admin);
      await page.click('#board-form button[type=submit]');
      await page.waitForSelector('#board-body:not([hidden])');

      const { sipp } = await w.caller('uac_queue_wait_bye.xml', 600);
      // The caller waits (nobody is available): on the board with its wait time.
      const row = await page.waitForFunction(() => {
        const r = document.querySelector('#waiting tbody tr');
        const cells = r ? [...r.cells].map((c) => c.textContent) : [];
        const [m, sec] = (cells[3] || '0:00').split(':').map(Number);
        return cells.length && m * 60 + sec >= 2 ? cells : null;
      }, null, { timeout: 10000 }).then((h) => h.jsonValue());
      const agents = await page.$$eval('#agents tbody tr', (rs) => rs.map((r) => [...r.cells].map((c) => c.textContent)));
      console.log(`board: waiting ${JSON.stringify(row)}; agents ${JSON.stringify(agents)}`);
      assert.deepEqual(row.slice(0, 3), ['support', 'sipp', 'waiting']);
      assert.deepEqual(agents.map((a) => a.slice(0, 2)), [['agent1', 'away'], ['agent2', 'offline']]);
      assert.equal(await page.isVisible('#offer'), false, 'no offer while away');
      console.log(`screenshot: ${await w.screenshot('agent-console-waiting-caller.png')}`);

      // The admin view, in a second tab.
      const admin = await w.browser.context.newPage();
      await w.login('admin.html', TOKENS.admin, admin);
      const health = await admin.waitForFunction(() => {
        const cell = (t) => document.querySelector(`#trunks tr[data-trunk="${t}"] td:nth-child(3)`)?.textContent || '';
        const h = { up: cell('carrier-up'), down: cell('carrier-down'), b: cell('carrier-b'), origin: cell('origin-a') };
        return /up/.test(h.up) && /down/.test(h.down) ? h : null;
      }, null, { timeout: 10000 }).then((h) => h.jsonValue());
      console.log(`trunks: ${JSON.stringify(health)}; OPTIONS answered: ${up.pings} (200), ${down.pings} (503)`);
      assert.match(health.b, /not probed/);
      assert.match(health.origin, /inbound only/);
      const call = await admin.waitForFunction(() => {
        const r = document.querySelector('#calls tbody tr');
        return r ? [...r.cells].slice(0, 4).map((c) => c.textContent) : null;
      }).then((h) => h.jsonValue());
      console.log(`live call: ${JSON.stringify(call)}`);
      assert.match(call[0], /^q-[0-9a-f]{16}$/);
      assert.equal(call[1], 'inbound');
      assert.equal(call[3], 'support / waiting');
      await admin.waitForFunction(() => window.dcxApp.active.latest('active') === 1);
      // Calls per second come from the SIP endpoint's counter in /healthz: the one call.
      await admin.waitForFunction(() => window.dcxApp.started() === 1);

      // A deck with a problem: refused, the problem shown by line and field.
      await admin.fill('#deck-text', 'prefix,carrier,rate\n1555,carrier-b,x\n');
      await admin.click('#deck-form button[type=submit]');
      const problem = await admin.waitForSelector('#deck-problems tbody tr').then((r) => r.evaluate((tr) => [...tr.cells].map((c) => c.textContent)));
      console.log(`bad deck: ${JSON.stringify(problem)}`);
      assert.equal(problem[0], '2');
      assert.equal(problem[1], 'rate');
      await admin.fill('#deck-text', 'prefix,carrier,rate\n1555,carrier-b,0.01\n44,carrier-c,0.02\n1,carrier-up,0.03\n');
      await admin.click('#deck-form button[type=submit]');
      await admin.waitForFunction(() => /Compiled and in effect: 3 rows/.test(document.querySelector('#deck-result').textContent));
      await admin.waitForFunction(() => /3 rows/.test(document.querySelector('#deck-now').textContent));
      console.log(`good deck: ${await admin.textContent('#deck-result')}`);
      console.log(`screenshot: ${await w.screenshot('admin.png', admin)}`);

      // Hang the waiting call up from the admin view: the caller's call ends.
      admin.once('dialog', (d) => d.accept());
      await admin.click('#calls tbody tr button');
      await admin.waitForSelector('#calls-none:not([hidden])', { timeout: 10000 });
      await until(() => !sipp.running, { timeoutMs: 10000, what: 'the caller to be hung up' });
      await page.waitForSelector('#waiting-none:not([hidden])', { timeout: 5000 });
      console.log(`hung up from the admin view: the caller's sipp ended (exit ${sipp.code})`);
    });
  } finally {
    up.close();
    down.close();
  }
});
