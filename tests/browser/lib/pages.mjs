// Where the browser loads the pages from: dcx itself. By default the copy compiled into
// the binary (what a user gets); with DCX_PAGES=web_root, `[server] web_root` pointing at
// this checkout's web-demo/, to try page edits without a rebuild.

import http from 'node:http';

/** Whether the tests run dcx with `[server] web_root` (DCX_PAGES=web_root). */
export function probeWebRoot() {
  return process.env.DCX_PAGES === 'web_root';
}

/** GET `url`: its status code (0 when nothing answers). */
export function status(url) {
  return new Promise((resolve) => {
    http.get(url, (res) => { res.resume(); resolve(res.statusCode); }).on('error', () => resolve(0));
  });
}
