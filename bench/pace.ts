export interface PaceOptions {
  /** Messages per second. */
  rate: number;
  total: number;
  tickMs: number;
  /** The clock, in ms. */
  now: () => number;
  /** Sends message `i` and calls `acked` on its acknowledgement; returns why it could not be sent, if it could not. */
  send: (i: number, acked: () => void) => Error | undefined;
  /** Once all are sent, resolve after this long even if some acknowledgements are missing. */
  ackWaitMs?: number;
  /** Stop sending after this long (a starved load process): fewer than `total` go, `sent` says how many. */
  stopAfterMs?: number;
}

/**
 * Sends messages 0, 1, 2, … at a steady rate: every `tickMs`, as many as should have gone by then. Resolves once every
 * one sent is acknowledged (or `ackWaitMs` after the last send); rejects with the first refusal.
 */
export function pace(opts: PaceOptions): Promise<{ start: number; sendEnd: number; sent: number; acked: number }> {
  let total = opts.total;
  let sent = 0;
  let acked = 0;
  let sendEnd = 0;
  const start = opts.now();
  return new Promise((resolve, reject) => {
    const done = () => resolve({ start, sendEnd, sent, acked });
    const ack = () => {
      if (++acked === total && sendEnd) done();
    };
    const timer = setInterval(() => {
      const elapsed = opts.now() - start;
      if (opts.stopAfterMs !== undefined && elapsed > opts.stopAfterMs) total = sent;
      const due = Math.min(total, Math.round((elapsed / 1000) * opts.rate));
      for (; sent < due; sent += 1) {
        const refused = opts.send(sent, ack);
        if (refused) {
          clearInterval(timer);
          return reject(refused);
        }
      }
      if (sent === total) {
        clearInterval(timer);
        sendEnd = opts.now();
        if (acked === total) done();
        else if (opts.ackWaitMs !== undefined) setTimeout(done, opts.ackWaitMs).unref();
      }
    }, opts.tickMs);
  });
}
