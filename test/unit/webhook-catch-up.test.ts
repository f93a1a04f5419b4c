import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { sharedDuties } from '../../hub/cluster/shared-duties.js';
import type { Inspection } from '../../hub/inspections/records.js';
import type { HubStore } from '../../hub/store/store.js';
import type { RunningTelemetryLog } from '../../hub/telemetry/wire.js';
import { webhookCatchUp } from '../../hub/workflow/webhook-catch-up.js';
import type { WebhookOutbox } from '../../hub/workflow/webhook-outbox.js';
import { acknowledged, inspectionFor } from '../contracts/webhook-store.suite.js';

const silent = pino({ level: 'silent' });
const PERIOD = 1000;

describe('webhookCatchUp (the shared outbox leader duty)', () => {
  let current: Inspection[];
  let calls: string[][];
  let fail: Error | undefined;
  const outbox = {
    async catchUp(inspections: ReadonlyArray<Inspection>) {
      calls.push(inspections.map((i) => `${i.id}@${i.audit.length}`));
      if (fail) throw fail;
      return 0;
    },
  };
  beforeEach(() => {
    vi.useFakeTimers();
    current = [];
    calls = [];
    fail = undefined;
  });
  afterEach(() => vi.useRealTimers());

  it('looks every half period, passing over what changed since its last look: a lost change is recorded within the period', async () => {
    const a = inspectionFor('pump-001');
    const b = inspectionFor('pump-002');
    current = [a, b];
    const duty = webhookCatchUp({ outbox, inspections: () => current, everyMs: PERIOD, logger: silent });
    await duty.start();
    await vi.advanceTimersByTimeAsync(PERIOD / 2);
    expect(calls).toEqual([[]]); // first look: nothing has stayed put for half a period yet
    await vi.advanceTimersByTimeAsync(PERIOD / 2);
    expect(calls.at(-1)).toEqual([`${a.id}@1`, `${b.id}@1`]);
    // `a` changes: its own process gets half a period to record it before the leader takes it as lost.
    current = [acknowledged(a), b];
    await vi.advanceTimersByTimeAsync(PERIOD / 2);
    expect(calls.at(-1)).toEqual([`${b.id}@1`]);
    await vi.advanceTimersByTimeAsync(PERIOD / 2);
    expect(calls.at(-1)).toEqual([`${a.id}@2`, `${b.id}@1`]);
    expect(calls).toHaveLength(4);
    await duty.stop();
    await vi.advanceTimersByTimeAsync(PERIOD * 3);
    expect(calls).toHaveLength(4);
  });

  it('starts afresh after leadership comes back, and keeps looking while the store fails', async () => {
    const a = inspectionFor('pump-001');
    current = [a];
    const warn = vi.fn();
    const info = vi.fn();
    const logger = { ...silent, warn, info } as unknown as typeof silent;
    const duty = webhookCatchUp({ outbox, inspections: () => current, everyMs: PERIOD, logger });
    await duty.start();
    await vi.advanceTimersByTimeAsync(PERIOD);
    await duty.stop();
    calls = [];
    fail = new Error('connection refused');
    await duty.start();
    await vi.advanceTimersByTimeAsync(PERIOD * 2);
    // What it saw in its last term is not taken as steady: the first look of the new one passes nothing.
    expect(calls).toEqual([[], [`${a.id}@1`], [`${a.id}@1`], [`${a.id}@1`]]);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]![0]).toEqual({ err: 'connection refused' });
    fail = undefined;
    await vi.advanceTimersByTimeAsync(PERIOD / 2);
    expect(info).toHaveBeenCalledWith('webhook catch-up works again');
    await duty.stop();
  });
});

describe('sharedDuties', () => {
  const store = { hotInspections: () => [] } as unknown as HubStore;
  const webhooks = { catchUp: async () => 0 } as unknown as WebhookOutbox;
  const retention = { name: 'telemetry-retention', start() {}, stop() {} };
  const telemetry = { retention } as unknown as RunningTelemetryLog;
  const cmms = { reconcileSeconds: 30 };
  const parts = { webhooks, store, telemetry, logger: silent };
  const cfg = (mode: 'single' | 'shared', withCmms = true) =>
    ({ cluster: { mode }, workflow: withCmms ? { cmms } : {} }) as Parameters<typeof sharedDuties>[0];

  it('gives the leader the outbox catch-up and telemetry retention in shared mode only', () => {
    expect(sharedDuties(cfg('shared'), parts).map((d) => d.name)).toEqual(['webhook-catch-up', 'telemetry-retention']);
    expect(sharedDuties(cfg('single'), parts)).toEqual([]);
    expect(sharedDuties(cfg('shared', false), { ...parts, webhooks: undefined, telemetry: undefined })).toEqual([]);
  });
});
