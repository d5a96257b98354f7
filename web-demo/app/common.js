// Helpers shared by the pages: DOM, words for states and reasons, the login form.

import { Dcx, DcxError, ERROR_TEXT } from '../sdk/dcx.js';

/** @param {string} sel @param {ParentNode} [root] @returns {HTMLElement} */
export const $ = (sel, root = document) => root.querySelector(sel);

/**
 * Makes an element: `el('td', {class: 'x'}, 'text', child)`.
 * @param {string} tag
 * @param {Record<string, any>} [attrs]
 * @param {...(Node|string|number|null|undefined)} children
 */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
}

/** `mm:ss` (or `h:mm:ss`) of a number of seconds. */
export function clock(s) {
  s = Math.max(0, Math.floor(s));
  const h = Math.floor(s / 3600); const m = Math.floor((s % 3600) / 60); const sec = s % 60;
  const mm = String(m).padStart(h ? 2 : 1, '0'); const ss = String(sec).padStart(2, '0');
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** The number (user part) of a SIP URI; other strings as they are. */
export function callerNumber(from) {
  if (!from) return 'unknown';
  const m = /^(?:sips?|tel):([^@;>]+)/.exec(String(from).replace(/^.*</, ''));
  return m ? decodeURIComponent(m[1]) : String(from);
}

/** Words for a call's end `reason` (dcx's, or an error code), with dcx's `detail` of a refusal. */
export function reasonWords(reason, sipCode, detail) {
  const words = {
    hangup: 'you hung up',
    remote_hangup: 'the other side hung up',
    busy: 'busy',
    no_answer: 'no answer',
    rejected: 'rejected',
    transferred: 'transferred',
    failed: 'the call failed',
    cancelled: 'cancelled',
    session_expired: 'the connection to the gateway was lost for too long',
  };
  let text = words[reason] || ERROR_TEXT[reason] || String(reason || 'ended').replace(/_/g, ' ');
  if (detail) text = `${text}: ${detail}`;
  return sipCode >= 300 ? `${text} (SIP ${sipCode})` : text;
}

/** Words for a call state. */
export function stateWords(call) {
  switch (call.state) {
    case 'new': return 'Starting…';
    case 'offered': return 'Incoming call';
    case 'connecting': return 'Connecting…';
    case 'trying': return 'Trying…';
    case 'ringing': return 'Ringing…';
    case 'connected': return 'Connected';
    case 'held': return 'On hold';
    case 'ended': return `Ended: ${reasonWords(call.endInfo?.reason, call.endInfo?.sipCode, call.endInfo?.detail)}`;
    default: return call.state;
  }
}

/** Words for an error (a DcxError, a REST error, anything). */
export function errorWords(e) {
  if (e instanceof DcxError) return e.description;
  return (e && e.message) || String(e);
}

/**
 * Shows a message in an alert region (role=alert), or clears it.
 * @param {HTMLElement} box @param {string|null} text @param {'error'|'info'} [kind]
 */
export function say(box, text, kind = 'error') {
  box.textContent = text || '';
  box.hidden = !text;
  box.dataset.kind = kind;
}

/** The demo config's tokens (docs/signaling.md, "Demo tokens"): valid only with its key. */
export const DEMO_TOKENS = {
  alice: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhY2NvdW50IjoiZGVtbyIsInVzZXIiOiJhbGljZSIsInJvbGUiOiJzb2Z0cGhvbmUiLCJleHAiOjQxMDI0NDQ4MDB9.jIZ-Y3RvdFDkF2IKkZh2MBlQHbk-zmmsTyXxEk23LJY',
  agent1: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhY2NvdW50IjoiZGVtbyIsInVzZXIiOiJhZ2VudDEiLCJyb2xlIjoiYWdlbnQiLCJleHAiOjQxMDI0NDQ4MDB9.W1EbohfzHsSuGcxeoeP9Ah8jZ1RSHyF-kmzRyVlRxKE',
  agent2: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhY2NvdW50IjoiZGVtbyIsInVzZXIiOiJhZ2VudDIiLCJyb2xlIjoiYWdlbnQiLCJleHAiOjQxMDI0NDQ4MDB9.IHRlAZSsHpPtRGIoFc0MM77hg9ykTpY7rHmwfCmuyRI',
  admin: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhY2NvdW50IjoiZGVtbyIsInVzZXIiOiJhZG1pbiIsInJvbGUiOiJhZG1pbiIsImV4cCI6NDEwMjQ0NDgwMH0.-6XR3D8Yt0NM0u8p6hRdRVjbm8MdgIvgBvqw9JvOsJY',
};

/**
 * Checks a token before it is sent: null when it looks usable, else words saying why
 * not (dcx has the last word: a forged signature only it can see).
 */
export function tokenProblem(token) {
  if (!token) return 'Enter a token.';
  const claims = Dcx.tokenClaims(token);
  if (!claims) return `${ERROR_TEXT.token_invalid}: it is not a JSON Web Token.`;
  if (typeof claims.exp === 'number' && claims.exp * 1000 <= Date.now()) {
    return `${ERROR_TEXT.token_expired} (it expired ${new Date(claims.exp * 1000).toLocaleString()}).`;
  }
  return null;
}

/**
 * Wires a login form: `#login-form` with `#token`, `#login-error`, the demo token
 * buttons `[data-demo-token]`. Calls `onToken(token)` (async; its rejection is shown).
 * The token is kept in sessionStorage under `key` (the resume token never is).
 */
export function loginForm(key, onToken) {
  const form = $('#login-form'); const input = $('#token'); const box = $('#login-error');
  const stored = sessionStorage.getItem(key);
  if (stored) input.value = stored;
  for (const b of document.querySelectorAll('[data-demo-token]')) {
    b.addEventListener('click', () => { input.value = DEMO_TOKENS[b.dataset.demoToken]; input.focus(); });
  }
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const token = input.value.trim();
    const problem = tokenProblem(token);
    if (problem) { say(box, problem); input.focus(); return; }
    say(box, 'Connecting…', 'info');
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      await onToken(token);
      sessionStorage.setItem(key, token);
      say(box, null);
    } catch (e) {
      say(box, `Login failed: ${errorWords(e)}`);
    } finally {
      button.disabled = false;
    }
  });
}

/** The gateway's WebSocket URL: this origin's /ws, or `?ws=`. */
export const wsUrl = () => Dcx.defaultUrl();

/**
 * The connection badge: follows a phone's socket (connected, reconnecting, closed).
 * @param {HTMLElement} badge @param {import('../sdk/dcx.js').Phone} phone
 */
export function connectionBadge(badge, phone) {
  const show = (text, kind) => { badge.textContent = text; badge.dataset.kind = kind; };
  show(`Connected as ${phone.user} (${phone.role})`, 'ok');
  phone.on('reconnecting', ({ attempt, resuming }) => show(
    `Connection lost: reconnecting${resuming ? ' (calls kept)' : ''}, attempt ${attempt}…`, 'warn'));
  phone.on('reconnected', ({ resumed }) => show(
    `Connected as ${phone.user} (${phone.role})${resumed ? ', session resumed' : ', new session'}`, 'ok'));
  phone.on('closed', ({ code, reason }) => show(`Disconnected: ${ERROR_TEXT[code] || reason || code}`, 'bad'));
}

/** A list of events for people, newest first, at most `max` lines. */
export function eventLog(list, max = 50) {
  return (text) => {
    const t = new Date().toLocaleTimeString();
    list.prepend(el('li', {}, `${t} ${text}`));
    while (list.children.length > max) list.lastChild.remove();
  };
}

/** Fills a <select> with the microphones; keeps the choice. */
export async function fillMicrophones(select) {
  const chosen = select.value;
  const mics = await Dcx.listMicrophones();
  select.replaceChildren(el('option', { value: '' }, 'Default microphone'),
    ...mics.map((m, i) => el('option', { value: m.deviceId }, m.label || `Microphone ${i + 1}`)));
  if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
}
