// A small time-series chart drawn on a <canvas>: one row per series, each with its own
// scale, over the last `windowS` seconds. No library.

/**
 * @typedef {object} Series
 * @property {string} key the field of each sample
 * @property {string} label
 * @property {string} color
 * @property {string} [unit]
 * @property {number} [min] bottom of the scale (default 0)
 * @property {number} [max] top of the scale; grows with the data when absent
 * @property {number} [digits] decimals of the value shown (default 0)
 */

export class TimeChart {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {{series: Series[], windowS?: number}} opts
   */
  constructor(canvas, opts) {
    this.canvas = canvas;
    this.series = opts.series;
    this.windowS = opts.windowS || 60;
    /** @type {{t: number, v: Record<string, number|null>}[]} */
    this.samples = [];
    this.draw = this.draw.bind(this);
    new ResizeObserver(this.draw).observe(canvas);
  }

  /** Adds a sample (`values` keyed by the series' keys) at `t` ms, and redraws. */
  push(values, t = Date.now()) {
    this.samples.push({ t, v: values });
    const oldest = t - this.windowS * 1000;
    while (this.samples.length && this.samples[0].t < oldest) this.samples.shift();
    this.draw();
  }

  /** Forgets every sample. */
  clear() { this.samples = []; this.draw(); }

  /** The latest value of a series, or null. */
  latest(key) {
    for (let i = this.samples.length - 1; i >= 0; i -= 1) {
      const v = this.samples[i].v[key];
      if (typeof v === 'number') return v;
    }
    return null;
  }

  draw() {
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth; const h = c.clientHeight;
    if (!w || !h) return;
    if (c.width !== Math.round(w * dpr)) c.width = Math.round(w * dpr);
    if (c.height !== Math.round(h * dpr)) c.height = Math.round(h * dpr);
    const g = c.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const styles = getComputedStyle(c);
    const ink = styles.color || '#222';
    const grid = styles.getPropertyValue('--grid').trim() || '#ddd';
    const rowH = h / this.series.length;
    const now = this.samples.length ? this.samples[this.samples.length - 1].t : Date.now();
    const x0 = 0; const x1 = w - 70;
    const xOf = (t) => x1 - ((now - t) / (this.windowS * 1000)) * (x1 - x0);
    g.font = '12px system-ui, sans-serif';
    this.series.forEach((s, i) => {
      const top = i * rowH + 4; const bottom = (i + 1) * rowH - 4;
      const values = this.samples.map((p) => p.v[s.key]).filter((v) => typeof v === 'number');
      const min = s.min ?? 0;
      const max = s.max ?? Math.max(min + 1, ...values.map((v) => v * 1.2));
      const yOf = (v) => bottom - ((Math.min(max, Math.max(min, v)) - min) / (max - min)) * (bottom - top);
      g.strokeStyle = grid; g.lineWidth = 1;
      g.beginPath(); g.moveTo(x0, bottom + 0.5); g.lineTo(x1, bottom + 0.5); g.stroke();
      g.strokeStyle = s.color; g.lineWidth = 2; g.beginPath();
      let started = false;
      for (const p of this.samples) {
        const v = p.v[s.key];
        if (typeof v !== 'number') { started = false; continue; }
        const x = xOf(p.t); const y = yOf(v);
        if (started) g.lineTo(x, y); else { g.moveTo(x, y); started = true; }
      }
      g.stroke();
      const last = this.latest(s.key);
      g.fillStyle = ink;
      g.fillText(s.label, x1 + 6, top + 12);
      g.fillStyle = s.color;
      const shown = last === null ? '–' : `${last.toFixed(s.digits ?? 0)}${s.unit ? ` ${s.unit}` : ''}`;
      g.fillText(shown, x1 + 6, top + 28);
      g.fillStyle = grid;
      g.fillText(String(Math.round(max * 10) / 10), x0 + 2, top + 10);
    });
  }
}
