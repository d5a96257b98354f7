// WebAudio for the pages: a microphone level meter and a synthesized ring (no audio
// files: nothing is fetched).

let shared = null;
/** The page's one AudioContext (created on first use; resumed after a user gesture). */
export function audioContext() {
  if (!shared) shared = new AudioContext();
  if (shared.state === 'suspended') shared.resume().catch(() => {});
  return shared;
}

/**
 * Shows the level of a stream's audio in a <meter> (0..1, RMS scaled so speech sits
 * around the middle) and, in `label`, in dBFS. `follow(stream)` switches streams;
 * `follow(null)` stops.
 * @param {HTMLMeterElement} meter @param {HTMLElement} [label]
 */
export function levelMeter(meter, label) {
  let source = null; let analyser = null; let timer = null;
  const buf = new Float32Array(1024);
  const stop = () => {
    clearInterval(timer); timer = null;
    source?.disconnect(); source = null;
    meter.value = 0;
    if (label) label.textContent = '–';
  };
  return {
    /** @param {MediaStream|null} stream */
    follow(stream) {
      stop();
      if (!stream || !stream.getAudioTracks().length) return;
      const ctx = audioContext();
      analyser = ctx.createAnalyser();
      analyser.fftSize = 1024;
      source = ctx.createMediaStreamSource(stream);
      source.connect(analyser);
      timer = setInterval(() => {
        analyser.getFloatTimeDomainData(buf);
        let sum = 0;
        for (const x of buf) sum += x * x;
        const rms = Math.sqrt(sum / buf.length);
        const db = rms > 0 ? 20 * Math.log10(rms) : -100;
        meter.value = Math.max(0, Math.min(1, (db + 60) / 60));
        if (label) label.textContent = `${Math.round(db)} dBFS`;
      }, 100);
    },
    stop,
  };
}

/**
 * A ring for an incoming call: two short bursts of a two-tone chirp every 3 s,
 * synthesized with oscillators. `start()` / `stop()`; `ringing` says which.
 */
export function ringer() {
  let timer = null; let gain = null;
  // Two bursts 0.5 s apart, each 880 Hz + 1100 Hz for 0.35 s.
  const burst = (ctx, at) => {
    for (const start of [at, at + 0.5]) {
      for (const f of [880, 1100]) {
        const o = ctx.createOscillator();
        o.frequency.value = f;
        o.connect(gain);
        o.start(start);
        o.stop(start + 0.35);
      }
    }
  };
  return {
    get ringing() { return timer !== null; },
    start() {
      if (timer) return;
      const ctx = audioContext();
      gain = ctx.createGain();
      gain.gain.value = 0.15;
      gain.connect(ctx.destination);
      burst(ctx, ctx.currentTime + 0.05);
      timer = setInterval(() => burst(ctx, ctx.currentTime + 0.05), 3000);
    },
    stop() {
      clearInterval(timer); timer = null;
      if (gain) { gain.disconnect(); gain = null; }
    },
  };
}
