// A trunk's OPTIONS health for the admin view: a UDP socket that answers every SIP
// request with one status (200: the trunk is up; 503: a failed ping, down).

import dgram from 'node:dgram';

/** @param {number} port @param {number} code @returns {Promise<{pings: number, close: () => void}>} */
export async function optionsResponder(port, code) {
  const socket = dgram.createSocket('udp4');
  const state = { pings: 0, close: () => { try { socket.close(); } catch { /* closed */ } } };
  socket.on('message', (msg, from) => {
    const text = msg.toString();
    if (!/^[A-Z]+ sip:/.test(text)) return; // only requests
    state.pings += 1;
    const head = text.split('\r\n\r\n')[0].split('\r\n');
    const keep = head.filter((l) => /^(Via|v|From|f|Call-ID|i|CSeq):/i.test(l));
    const to = head.find((l) => /^(To|t):/i.test(l)) || 'To: <sip:x@127.0.0.1>';
    const reason = code === 200 ? 'OK' : 'Service Unavailable';
    const resp = [`SIP/2.0 ${code} ${reason}`, ...keep, /;tag=/.test(to) ? to : `${to};tag=opt${port}`, 'Content-Length: 0', '', ''].join('\r\n');
    socket.send(resp, from.port, from.address);
  });
  await new Promise((resolve, reject) => { socket.once('error', reject); socket.bind(port, '127.0.0.1', resolve); });
  return state;
}
