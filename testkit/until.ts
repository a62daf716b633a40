/**
 * Waiting without sleeping a guessed time: polls `check` until it returns
 * true (or a value other than false) and fails after `timeoutMs` naming
 * `what`, so a test waits as long as it must and no longer.
 */
export async function until<T>(what: string, check: () => T | false | Promise<T | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await check();
    if (result !== false) return result;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
