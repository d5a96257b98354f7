// dcx SDK: WebRTC and microphone helpers, and the client's call ids.

import { DcxError, ERROR_TEXT } from './errors.js';

/** Resolves when ICE gathering is complete (dcx takes no trickled candidates), or
 * after `limitMs`: host candidates are enough for an ICE-lite peer, which also learns
 * the browser's address from its connectivity checks. */
export function gatheringComplete(pc, limitMs) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', onState);
      pc.removeEventListener('icecandidate', onCandidate);
      resolve();
    };
    const onState = () => { if (pc.iceGatheringState === 'complete') done(); };
    const onCandidate = (e) => { if (!e.candidate) done(); };
    const timer = setTimeout(done, limitMs);
    pc.addEventListener('icegatheringstatechange', onState);
    pc.addEventListener('icecandidate', onCandidate);
  });
}

/**
 * Opens the microphone; maps the browser's errors to DcxError codes.
 * @param {MediaTrackConstraints|boolean} audio
 * @returns {Promise<MediaStream>}
 */
export async function openMicrophone(audio) {
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new DcxError('microphone_error', 'this page has no access to media devices (needs https or localhost)');
  }
  try {
    return await navigator.mediaDevices.getUserMedia({ audio, video: false });
  } catch (e) {
    const name = e && e.name;
    if (name === 'NotAllowedError' || name === 'SecurityError') {
      throw new DcxError('microphone_denied', ERROR_TEXT.microphone_denied);
    }
    if (name === 'NotFoundError' || name === 'OverconstrainedError') {
      throw new DcxError('microphone_missing', ERROR_TEXT.microphone_missing);
    }
    throw new DcxError('microphone_error', `${ERROR_TEXT.microphone_error}: ${e && e.message}`);
  }
}

/** `{audio}` constraints for a device id and the phone's own audio options. */
export function audioConstraints(deviceId, base) {
  const c = { ...(base || {}) };
  if (deviceId) c.deviceId = { exact: deviceId };
  return Object.keys(c).length ? c : true;
}

/** A call id the client chooses: 1 to 64 of A-Z a-z 0-9 _ -. */
export function newCallId() {
  const bytes = new Uint8Array(6);
  crypto.getRandomValues(bytes);
  return 'c-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export const DIGITS = /^[0-9*#A-D]+$/;

/** @param {number} ms */
export function delay(ms) { return new Promise((r) => setTimeout(r, ms)); }
