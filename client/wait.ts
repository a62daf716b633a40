import { closedError, show, VgpioError } from './errors.ts';

/**
 * One wait of the client: `watch` registers a listener that calls `done`
 * (and returns how to remove it); the wait fails with `onTimeout()` after
 * `timeoutMs`, or as `closed` when `signal` aborts (the client closed).
 * Every wait of the client goes through here so none can hang.
 */
export function waitFor<T>(
  watch: (done: (value: T) => void, fail: (error: Error) => void) => () => void,
  timeoutMs: number,
  onTimeout: () => Error,
  signal: AbortSignal,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) {
      reject(closedError());
      return;
    }
    let unwatch: () => void = () => undefined;
    let settled = false;
    const finish = (): void => {
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      unwatch();
    };
    const onAbort = (): void => {
      finish();
      reject(new VgpioError('closed', 'the client was closed while waiting'));
    };
    const timer = Number.isFinite(timeoutMs)
      ? setTimeout(() => {
          finish();
          reject(onTimeout());
        }, timeoutMs)
      : undefined;
    signal.addEventListener('abort', onAbort, { once: true });
    const done = (value: T): void => {
      if (settled) return;
      finish();
      resolve(value);
    };
    const fail = (error: Error): void => {
      if (settled) return;
      finish();
      reject(error);
    };
    const remove = watch(done, fail);
    // `watch` may have called done() already (the condition held): then nothing is left to remove later.
    const already = (): boolean => settled;
    if (already()) remove();
    else unwatch = remove;
  });
}

/** Checks a caller's timeout: a positive number of milliseconds, or Infinity. */
export function checkTimeout(what: string, ms: number): number {
  if (typeof ms !== 'number' || Number.isNaN(ms) || ms <= 0) throw new VgpioError('bad_input', `${what} must be a positive number of milliseconds; got ${show(ms)}`);
  return ms;
}
