// Waiting on a condition, never on the clock: poll until the answer is there, with a deadline.

/** Poll `f` until it returns a value (not undefined), every 50 ms, within `ms`: never a fixed sleep. */
export async function pollUntil<T>(what: string, f: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
