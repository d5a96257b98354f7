// The dialpad: twelve buttons (keyboard-usable: Tab to a key, Enter or Space presses
// it; digits typed anywhere outside a text field press them too).

import { el } from './common.js';

const KEYS = [
  ['1', ''], ['2', 'ABC'], ['3', 'DEF'], ['4', 'GHI'], ['5', 'JKL'], ['6', 'MNO'],
  ['7', 'PQRS'], ['8', 'TUV'], ['9', 'WXYZ'], ['*', ''], ['0', '+'], ['#', ''],
];

/**
 * Fills `container` with the keys; `onKey(key)` on each press.
 * @param {HTMLElement} container @param {(key: string) => void} onKey
 */
export function dialpad(container, onKey) {
  container.setAttribute('role', 'group');
  for (const [key, letters] of KEYS) {
    const name = key === '*' ? 'star' : key === '#' ? 'pound' : key;
    container.append(el('button', {
      type: 'button', class: 'key', dataset: { key }, 'aria-label': letters ? `${name} ${letters}` : name,
      onclick: () => onKey(key),
    }, el('span', { class: 'digit' }, key), el('span', { class: 'letters', 'aria-hidden': 'true' }, letters)));
  }
  document.addEventListener('keydown', (ev) => {
    const t = /** @type {HTMLElement} */ (ev.target);
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT')) return;
    if (/^[0-9*#]$/.test(ev.key) && container.offsetParent !== null) {
      ev.preventDefault();
      const b = container.querySelector(`[data-key="${CSS.escape(ev.key)}"]`);
      b?.classList.add('pressed');
      setTimeout(() => b?.classList.remove('pressed'), 120);
      onKey(ev.key);
    }
  });
}
