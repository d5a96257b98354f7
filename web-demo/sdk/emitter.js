// dcx SDK: the event emitter of Phone and Call.

/** A minimal event emitter: `on` returns a function that removes the listener. */
export class Emitter {
  constructor() { /** @type {Map<string, Set<Function>>} */ this.listeners = new Map(); }
  /**
   * @param {string} type
   * @param {Function} fn
   * @returns {() => void} unsubscribe
   */
  on(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(fn);
    return () => this.off(type, fn);
  }
  /** @param {string} type @param {Function} fn */
  off(type, fn) { this.listeners.get(type)?.delete(fn); }
  /** @param {string} type @param {Function} fn */
  once(type, fn) {
    const off = this.on(type, (...a) => { off(); fn(...a); });
    return off;
  }
  /** @param {string} type @param {...any} args */
  emit(type, ...args) {
    for (const fn of [...(this.listeners.get(type) || [])]) {
      try { fn(...args); } catch (e) { setTimeout(() => { throw e; }); }
    }
  }
}
