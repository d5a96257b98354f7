// One test's world: its dcx, where the pages come from, Chromium with a 1 kHz fake
// microphone, the sipp peers and their media sockets; all stopped when the test ends,
// and their logs printed when it failed.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { writeSineWav } from './audio.mjs';
import { launch } from './browser.mjs';
import { probeWebRoot, status } from './pages.mjs';
import { DID, Dcx, Sipp, TOKEN_KEY, WEB_DEMO, mediaAt, ports, tempDir } from './procs.mjs';
import { RtpPeer } from './rtp.mjs';

export const ARTIFACTS = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../artifacts');

/** What the fake microphone says. */
export const MIC_HZ = 1000;

/** The demo tokens (docs/signaling.md). */
export const TOKENS = {
  alice: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhY2NvdW50IjoiZGVtbyIsInVzZXIiOiJhbGljZSIsInJvbGUiOiJzb2Z0cGhvbmUiLCJleHAiOjQxMDI0NDQ4MDB9.jIZ-Y3RvdFDkF2IKkZh2MBlQHbk-zmmsTyXxEk23LJY',
  agent1: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhY2NvdW50IjoiZGVtbyIsInVzZXIiOiJhZ2VudDEiLCJyb2xlIjoiYWdlbnQiLCJleHAiOjQxMDI0NDQ4MDB9.W1EbohfzHsSuGcxeoeP9Ah8jZ1RSHyF-kmzRyVlRxKE',
  admin: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhY2NvdW50IjoiZGVtbyIsInVzZXIiOiJhZG1pbiIsInJvbGUiOiJhZG1pbiIsImV4cCI6NDEwMjQ0NDgwMH0.-6XR3D8Yt0NM0u8p6hRdRVjbm8MdgIvgBvqw9JvOsJY',
};

/**
 * A token of account `demo` signed with the demo key (HS256, as docs/signaling.md
 * shows), for the roles and expiries the demo tokens do not cover.
 */
export function mintToken(user, role, exp = 4102444800, key = TOKEN_KEY) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ account: 'demo', user, role, exp })}`;
  return `${input}.${crypto.createHmac('sha256', key).update(input).digest('base64url')}`;
}


/**
 * Runs `body(world)` with a fresh world on port block `base`; tears it down after,
 * and prints dcx's log, sipp's and the page's console when `body` threw.
 * @param {string} name @param {number} base
 * @param {object} opts dcx config options (procs.mjs `dcxConfig`)
 * @param {(w: World) => Promise<void>} body
 */
export async function withWorld(name, base, opts, body) {
  const w = new World(name, base);
  try {
    await w.start(opts);
    await body(w);
    // An uncaught exception in a page fails the test, even when the rest passed.
    const thrown = w.consoles().filter((l) => l.startsWith('[pageerror]'));
    assert.deepEqual(thrown, [], 'no uncaught exception in the pages');
  } catch (e) {
    console.error(`\n===== ${name} failed: diagnostics =====`);
    console.error(`--- dcx log (last lines)\n${w.dcx?.tail(60) ?? '(not started)'}`);
    for (const s of w.sipps) console.error(s.logs());
    console.error(`--- page console\n${w.consoles().slice(-40).join('\n')}`);
    try { await w.page?.screenshot({ path: path.join(ARTIFACTS, `failed-${name}.png`), fullPage: true }); } catch { /* no page */ }
    throw e;
  } finally {
    await w.stop();
  }
}

export class World {
  constructor(name, base) {
    this.name = name;
    this.p = ports(base);
    this.dir = tempDir(name);
    /** @type {Sipp[]} */ this.sipps = [];
    /** @type {RtpPeer[]} */ this.peers = [];
    this.extras = [];
    /** Every browser's console lines. */
    this.browsers = [];
  }

  /** The console lines of every page of every browser of this world. */
  consoles() { return this.browsers.flatMap((b) => b.console); }

  async start(opts) {
    const webRoot = probeWebRoot();
    this.dcx = await Dcx.start(this.dir, this.p, { ...opts, webRoot: webRoot ? WEB_DEMO : undefined });
    this.origin = `http://${this.dcx.http}`;
    const page = await status(`${this.origin}/softphone.html`);
    if (page !== 200) throw new Error(`dcx answers ${page} for /softphone.html: it does not serve the pages`);
    const wav = writeSineWav(path.join(this.dir, 'mic-1khz.wav'), { hz: MIC_HZ });
    this.browser = await launch(wav);
    this.browsers.push(this.browser);
    this.page = this.browser.page;
  }

  /** A second Chromium whose fake microphone says `hz`; closed with the world. */
  async anotherBrowser(hz) {
    const wav = writeSineWav(path.join(this.dir, `mic-${hz}hz.wav`), { hz });
    const b = await launch(wav);
    this.browsers.push(b);
    this.extras.unshift(() => b.close());
    return b;
  }

  /** The page at `file` of the pages (e.g. `softphone.html`). */
  url(file) { return `${this.origin}/${file}`; }

  /**
   * carrier-b: a media socket talking `hz`, then sipp running `scenario` (a
   * `uas_media_at*.xml`) with its SDP pointing at that socket.
   */
  async carrier(scenario, hz) {
    const media = await RtpPeer.bind(this.p.carrierRtp);
    this.peers.push(media);
    media.talk(hz);
    const sipp = await Sipp.callee(this.dir, 'carrier', mediaAt(scenario, this.p.carrierRtp),
      { sip: this.p.carrierSip, media: this.p.carrierMedia, control: this.p.carrierControl });
    this.sipps.push(sipp);
    return { sipp, media };
  }

  /** carrier-c, as {@link World#carrier} (its own media socket and ports). */
  async carrierC(scenario, hz) {
    const media = await RtpPeer.bind(this.p.carrierCRtp);
    this.peers.push(media);
    media.talk(hz);
    const sipp = await Sipp.callee(this.dir, 'carrier-c', mediaAt(scenario, this.p.carrierCRtp),
      { sip: this.p.carrierCSip, media: this.p.carrierCMedia, control: this.p.carrierCControl });
    this.sipps.push(sipp);
    return { sipp, media };
  }

  /**
   * A PSTN caller of the DID from origin-a: a media socket talking `hz`, then sipp
   * running `scenario` (a `uac_queue_*.xml`).
   */
  async caller(scenario, hz) {
    const media = await RtpPeer.bind(this.p.callerRtp);
    this.peers.push(media);
    media.talk(hz);
    const sipp = Sipp.start(this.dir, 'caller',
      [...mediaAt(scenario, this.p.callerRtp), `127.0.0.1:${this.p.sip}`, '-s', DID],
      { sip: this.p.callerSip, media: this.p.callerMedia, control: this.p.callerControl });
    this.sipps.push(sipp);
    return { sipp, media };
  }

  /** Opens `file` and logs in with `token`; resolves once the app shows. */
  async login(file, token, page = this.page) {
    await page.goto(this.url(file));
    await page.fill('#token', token);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#app:not([hidden])', { timeout: 10000 });
  }

  /** Saves a screenshot under artifacts/; returns its path. */
  async screenshot(file, page = this.page) {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const p = path.join(ARTIFACTS, file);
    await page.screenshot({ path: p, fullPage: true });
    return p;
  }

  async stop() {
    await this.browser?.close();
    for (const peer of this.peers) peer.close();
    await Promise.all(this.sipps.map((s) => s.stop(500)));
    for (const f of this.extras) await f();
    await this.dcx?.stop();
    if (!process.env.KEEP_TMP) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
