// Waiting on conditions: every wait ends when its condition holds, or fails at its limit.

/**
 * Polls `cond` (sync or async) every `everyMs` until it returns something truthy; that
 * value is returned. Throws `what` after `timeoutMs`.
 * @template T
 * @param {() => T|Promise<T>} cond
 * @param {{timeoutMs?: number, everyMs?: number, what?: string}} [o]
 * @returns {Promise<T>}
 */
export async function until(cond, { timeoutMs = 15000, everyMs = 20, what = 'a condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Resolves when `emitter` emits `event` with an argument `pred` accepts. */
export function nextEvent(emitter, event, pred = () => true, { timeoutMs = 15000, what = event } = {}) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { emitter.off(event, on); reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)); }, timeoutMs);
    const on = (v) => { if (pred(v)) { clearTimeout(timer); emitter.off(event, on); resolve(v); } };
    emitter.on(event, on);
  });
}
