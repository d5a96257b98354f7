// dcx SDK: call quality from RTCPeerConnection.getStats(), and the E-model MOS.

/**
 * @typedef {object} Quality
 * @property {number|null} rtt round-trip time to dcx in ms (ICE candidate pair, else RTCP)
 * @property {number|null} jitter inter-arrival jitter of the audio we receive, in ms
 * @property {number} loss share of packets lost over the last interval, in percent
 *   (the worse of what we lost and what dcx reports it lost of ours)
 * @property {number} mos estimated MOS, 1 to 4.5 ({@link estimateMos})
 * @property {number} packetsReceived audio packets received so far
 * @property {number} packetsSent audio packets sent so far
 * @property {number} at `Date.now()` of the sample
 */

/**
 * An E-model estimate of the MOS (ITU-T G.107, simplified as by Cole and Rosenbluth,
 * "Voice over IP performance monitoring", 2001), for G.711/Opus narrowband speech:
 *
 *   d  = rtt/2 + 2*jitter + 10          one-way delay in ms: half the round trip, a
 *                                       jitter buffer of twice the jitter, 10 ms codec
 *   Id = d/40          if d < 160       delay impairment
 *      = (d-120)/10    otherwise
 *   Ie = 2.5 * loss                     loss impairment, loss in percent
 *   R  = 93.2 - Id - Ie                 93.2: the default R with no impairment
 *   MOS = 1 + 0.035 R + 7e-6 R (R-60) (100-R), clamped to 1 .. 4.5
 *
 * A clean LAN call scores 4.40; 1 % loss costs about 0.05, 5 % about 0.36, 10 % about 0.9;
 * 200 ms of round trip with 30 ms of jitter cost about 0.1, 400 ms about 0.45.
 * @param {number} rttMs @param {number} jitterMs @param {number} lossPct
 * @returns {number}
 */
export function estimateMos(rttMs, jitterMs, lossPct) {
  const d = (rttMs || 0) / 2 + 2 * (jitterMs || 0) + 10;
  const id = d < 160 ? d / 40 : (d - 120) / 10;
  const r = 93.2 - id - 2.5 * (lossPct || 0);
  if (r <= 0) return 1;
  if (r >= 100) return 4.5;
  return Math.min(4.5, Math.max(1, 1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r)));
}

/** Reduces one getStats report, with the previous sample's counters, to a Quality. */
export function readQuality(report, prev) {
  let rtt = null; let jitter = null; let remoteLoss = 0;
  let received = 0; let lost = 0; let sent = 0;
  report.forEach((s) => {
    if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded'
        && typeof s.currentRoundTripTime === 'number') {
      rtt = s.currentRoundTripTime * 1000;
    } else if (s.type === 'inbound-rtp' && s.kind === 'audio') {
      received = s.packetsReceived || 0;
      lost = Math.max(0, s.packetsLost || 0);
      if (typeof s.jitter === 'number') jitter = s.jitter * 1000;
    } else if (s.type === 'outbound-rtp' && s.kind === 'audio') {
      sent = s.packetsSent || 0;
    } else if (s.type === 'remote-inbound-rtp' && s.kind === 'audio') {
      if (rtt === null && typeof s.roundTripTime === 'number') rtt = s.roundTripTime * 1000;
      if (typeof s.fractionLost === 'number') remoteLoss = s.fractionLost * 100;
    }
  });
  const dReceived = received - (prev ? prev.received : 0);
  const dLost = lost - (prev ? prev.lost : 0);
  const localLoss = dReceived + dLost > 0 ? (100 * Math.max(0, dLost)) / (dReceived + dLost) : 0;
  const loss = Math.max(localLoss, remoteLoss);
  /** @type {Quality} */
  const q = {
    rtt, jitter, loss, mos: estimateMos(rtt ?? 0, jitter ?? 0, loss),
    packetsReceived: received, packetsSent: sent, at: Date.now(),
  };
  return { q, counters: { received, lost } };
}
