/**
 * The CLI's `--pwm PERIOD:DUTY` (`20ms:50%`, `0.1s:25%`, `100Hz:50%`) as
 * the `.../set` JSON waveform `{"pwm": {"period_ms": n, "duty": d}}`. The
 * numbers are checked by the bridge like any other payload (payload.ts);
 * this only reads the notation.
 */
const FORM = /^(\d+(?:\.\d+)?)(ms|s|hz)?:(\d+(?:\.\d+)?)%?$/i;

export function pwmArgument(text: string): { pwm: { period_ms: number; duty: number } } {
  const match = FORM.exec(text.trim());
  if (match === null) throw new Error(`--pwm ${JSON.stringify(text)}; allowed: PERIOD:DUTY% with PERIOD in ms, s or Hz (20ms:50%, 0.5s:10%, 100Hz:50%)`);
  const value = Number(match[1]);
  const unit = (match[2] ?? 'ms').toLowerCase();
  const periodMs = unit === 'hz' ? 1000 / value : unit === 's' ? value * 1000 : value;
  return { pwm: { period_ms: periodMs, duty: Number(match[3]) } };
}
