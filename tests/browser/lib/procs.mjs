// The processes a test starts: dcx (its config and deck in a fresh directory) and
// sipp (Debian's sip-tester, the scenarios of tests/sipp/), each stopped by the test.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { until } from './wait.mjs';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '../../..');
export const WEB_DEMO = path.join(REPO, 'web-demo');
export const SIPP_DIR = path.join(REPO, 'tests/sipp');
export const DCX_BIN = process.env.DCX_BIN || '/var/cache/dcx-target/debug/dcx';
/** The demo key: the demo tokens of docs/signaling.md are signed with it. */
export const TOKEN_KEY = 'dcx-demo-signing-key-change-me!!';

/** A fresh directory for one test. */
export function tempDir(name) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `dcx-browser-${name}-`));
}

/** A process that keeps its output, and whose exit can be awaited. */
class Proc {
  constructor(name, cmd, args, opts) {
    this.name = name;
    this.out = [];
    this.child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => { this.code = code; this.signal = signal; resolve({ code, signal }); });
      this.child.on('error', (e) => { this.out.push(`spawn error: ${e.message}`); this.code = -1; resolve({ code: -1 }); });
    });
    const keep = (chunk) => {
      for (const line of chunk.toString().split('\n')) if (line) this.out.push(line);
      if (this.out.length > 4000) this.out.splice(0, this.out.length - 4000);
    };
    this.child.stdout.on('data', keep);
    this.child.stderr.on('data', keep);
  }

  get running() { return this.code === undefined; }

  /** The last lines it wrote. */
  tail(n = 40) { return this.out.slice(-n).join('\n'); }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 3000) {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.running && this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(t);
  }
}

/**
 * A test's port block (`base` .. `base + 99`, inside 24000-24999).
 * @param {number} base
 */
export function ports(base) {
  return {
    base,
    carrierSip: base, carrierCSip: base + 1, callerSip: base + 2,
    carrierMedia: base + 10, callerMedia: base + 20,
    probeUp: base + 30, probeDown: base + 31,
    carrierRtp: base + 40, callerRtp: base + 41, carrierCRtp: base + 42, carrierCMedia: base + 24,
    carrierCControl: base + 52,
    carrierControl: base + 50, callerControl: base + 51,
    pages: base + 60, http: base + 62, sip: base + 63,
    // Two media shards, on webrtc and webrtc + 1.
    webrtc: base + 64,
    rtpFirst: base + 70, rtpLast: base + 99,
  };
}

/** The number the softphone dials: on the deck for carrier-b (and carrier-c second). */
export const NUMBER = '15551234567';
/** The DID of the queue `support`. */
export const DID = '15550100';
/** A number on the deck for carrier-c alone (a consult call, a transfer's onward leg). */
export const NUMBER_C = '16665550000';
const DECK = 'prefix,carrier,rate\n1555,carrier-b,0.01\n1555,carrier-c,0.02\n1900,carrier-b,0.50\n1666,carrier-c,0.01\n';

/**
 * The test's dcx config: carrier-b (sipp) and carrier-c (nothing listens) on the test's
 * ports without OPTIONS probing (sipp would take a ping for a call), origin-a for
 * loopback callers, agents agent1 and agent2 in queue `support` on DID {@link DID}, the
 * demo key, and the pages from `webRoot` when given.
 */
export function dcxConfig(p, { webRoot, wrapUpS = 5, ringTimeoutS = 20, probed = null } = {}) {
  // Trunks probed with OPTIONS every second, at sockets of the test (the admin view's health).
  const probes = probed ? Object.entries(probed).map(([name, port]) => `
[[trunks]]
name = "${name}"
address = "127.0.0.1:${port}"
options_interval_s = 1
options_down_after = 1
`).join('') : '';
  return `[server]
http_listen = "127.0.0.1:${p.http}"
${webRoot ? `web_root = ${JSON.stringify(webRoot)}\n` : ''}
[sip]
listen = "127.0.0.1:${p.sip}"
t1_ms = 100

[media]
rtp_ports = "${p.rtpFirst}-${p.rtpLast}"
public_ip = "127.0.0.1"
webrtc_port = ${p.webrtc}
webrtc_shards = 2
rtp_port_rest_ms = 500

[signaling]
token_key = "${TOKEN_KEY}"
resume_grace_s = 30

[routing]
deck = "deck.csv"
blocked = [{ prefix = "1900", reason = "US premium rate" }]

[[trunks]]
name = "carrier-b"
address = "127.0.0.1:${p.carrierSip}"
options_interval_s = 0

[[trunks]]
name = "carrier-c"
address = "127.0.0.1:${p.carrierCSip}"
options_interval_s = 0

[[trunks]]
name = "origin-a"
inbound_from = ["127.0.0.1/32"]
${probes}
[[agents]]
user = "agent1"
skills = { support = 5 }

[[agents]]
user = "agent2"
skills = { support = 3 }

[[queues]]
name = "support"
strategy = "longest-idle"
skills = { support = 1 }
ring_timeout_s = ${ringTimeoutS}
max_wait_s = 120
wrap_up_s = ${wrapUpS}
hold_tone_hz = 440

[[dids]]
number = "${DID}"
queue = "support"

[[accounts]]
name = "demo"
max_concurrent_calls = 5
`;
}

/** A running dcx. */
export class Dcx extends Proc {
  /**
   * Writes the config (and deck) to `dir` and starts dcx; resolves once it listens for
   * SIP (its last listener, after HTTP and WebRTC).
   */
  static async start(dir, p, opts = {}) {
    fs.writeFileSync(path.join(dir, 'deck.csv'), DECK);
    fs.writeFileSync(path.join(dir, 'dcx.toml'), dcxConfig(p, opts));
    const dcx = new Dcx('dcx', DCX_BIN, ['--config', path.join(dir, 'dcx.toml')], {
      cwd: dir, env: { ...process.env, DCX_LOG: process.env.DCX_LOG || 'info' },
    });
    dcx.http = `127.0.0.1:${p.http}`;
    await until(() => dcx.out.some((l) => l.includes('sip listening')) || !dcx.running,
      { timeoutMs: 15000, what: 'dcx to listen' });
    if (!dcx.running) throw new Error(`dcx did not start:\n${dcx.tail()}`);
    return dcx;
  }
}

/**
 * Whether something has bound UDP `port` (read from /proc/net/udp, so that looking
 * never takes the port from the process about to bind it).
 */
function udpBound(port) {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
  const table = fs.readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1);
  return table.some((line) => (line.trim().split(/\s+/)[1] || '').endsWith(hex.trim()));
}

/** A running sipp: `-m 1 -timeout 30s`, its own SIP, media and control ports. */
export class Sipp extends Proc {
  /**
   * @param {string} dir its working directory (its logs go there)
   * @param {string} name
   * @param {string[]} args the scenario's arguments (and a caller's remote address)
   * @param {{sip: number, media: number, control: number}} at
   */
  static start(dir, name, args, at) {
    const all = [...args, '-i', '127.0.0.1', '-mi', '127.0.0.1', '-p', String(at.sip),
      '-mp', String(at.media), '-cp', String(at.control), '-m', '1', '-timeout', '30s',
      '-trace_err', '-trace_msg', '-nostdin'];
    const s = new Sipp(name, 'sipp', all, { cwd: dir });
    s.dir = dir;
    s.scenarioName = path.basename(args[args.indexOf('-sf') + 1] || name, '.xml');
    return s;
  }

  /** A UAS: started, then waited for until its UDP port is bound. */
  static async callee(dir, name, args, at) {
    const s = Sipp.start(dir, name, args, at);
    await until(async () => !s.running || udpBound(at.sip), { timeoutMs: 10000, what: `sipp ${name} to bind` });
    if (!s.running) throw new Error(`sipp ${name} exited at once:\n${s.tail()}`);
    return s;
  }

  /** Its exit, which must be success, within `timeoutMs`. */
  async success(timeoutMs = 35000) {
    let timer;
    const limit = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`sipp ${this.name} did not end within ${timeoutMs} ms\n${this.logs()}`)), timeoutMs); });
    const { code } = await Promise.race([this.exited, limit]);
    clearTimeout(timer);
    if (code !== 0) throw new Error(`sipp ${this.name} exited with ${code}\n${this.logs()}`);
  }

  /** The SIP messages sipp traced (`-trace_msg`). */
  messages() {
    const f = fs.readdirSync(this.dir).find((n) => n.startsWith(this.scenarioName) && n.endsWith('_messages.log'));
    return f ? fs.readFileSync(path.join(this.dir, f), 'utf8') : '';
  }

  /** Its output and error log, for a failure message. */
  logs() {
    const errs = fs.readdirSync(this.dir).filter((n) => n.startsWith(this.scenarioName) && n.endsWith('_errors.log'))
      .map((n) => fs.readFileSync(path.join(this.dir, n), 'utf8').slice(-3000));
    return `--- sipp ${this.name} output\n${this.tail()}\n${errs.join('\n')}`;
  }
}

/** `scenario` of tests/sipp/ with its media at the test's socket `rtpPort`. */
export function mediaAt(scenario, rtpPort) {
  return ['-sf', path.join(SIPP_DIR, scenario), '-key', 'rtp_port', String(rtpPort)];
}

/** Checks the tools the tests need; throws with what to install. */
export function checkTools() {
  const problems = [];
  if (!fs.existsSync(DCX_BIN)) problems.push(`no dcx binary at ${DCX_BIN} (build it with cargo, or set DCX_BIN)`);
  if (spawnSync('sipp', ['-v']).error) problems.push('no sipp: apt-get install -y sip-tester');
  if (!fs.existsSync('/usr/bin/chromium')) problems.push('no /usr/bin/chromium: apt-get install -y --no-install-recommends chromium');
  return problems;
}
