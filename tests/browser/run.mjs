#!/usr/bin/env node
// Runs dcx's browser tests (test/*.test.mjs) one after another with node's test runner:
// `cd tests/browser && npm install && node run.mjs [name filter]`. Exits non-zero when
// a test fails or a tool is missing. Env: DCX_BIN (the dcx binary), CHROMIUM,
// KEEP_TMP=1 (keep each test's directory: dcx.toml, logs, sipp traces), DCX_PAGES=web_root
// (dcx serves the pages from this checkout's web-demo/ instead of its compiled-in copy).

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ARTIFACTS } from './lib/fixture.mjs';
import { probeWebRoot } from './lib/pages.mjs';
import { DCX_BIN, checkTools } from './lib/procs.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const started = Date.now();

const problems = checkTools();
if (!fs.existsSync(path.join(here, 'node_modules/playwright-core'))) problems.push('no playwright-core: run `npm install` in tests/browser');
if (problems.length) {
  console.error(`browser tests cannot run:\n  ${problems.join('\n  ')}`);
  process.exit(2);
}

fs.mkdirSync(ARTIFACTS, { recursive: true });
const webRoot = probeWebRoot();
console.log(`dcx: ${DCX_BIN}; pages: ${webRoot ? 'from web-demo/ on disk ([server] web_root)' : 'compiled into dcx'}`);

const filter = process.argv[2];
const files = fs.readdirSync(path.join(here, 'test')).filter((f) => f.endsWith('.test.mjs'))
  .filter((f) => !filter || f.includes(filter)).sort().map((f) => path.join('test', f));
if (!files.length) { console.error(`no test matches ${filter}`); process.exit(2); }

const child = spawn(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files], {
  cwd: here, stdio: 'inherit', env: process.env,
});
child.on('exit', (code, signal) => {
  console.log(`browser tests: ${((Date.now() - started) / 1000).toFixed(1)} s in all; artifacts in ${ARTIFACTS}`);
  process.exit(code ?? (signal ? 1 : 0));
});
