/** Waits until `check` holds, polling every `everyMs`; throws naming `what` after `withinMs`. Resolves to the wait. */
export async function until(what: string, check: () => boolean, withinMs: number, everyMs = 20): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > withinMs) throw new Error(`not within ${withinMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return Date.now() - started;
}
