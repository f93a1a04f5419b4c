import { describe, expect, it } from 'vitest';
import { loadScenario, ScenarioSchema, validate } from '../../config/index.js';
import { isPdmError } from '../../protocol/errors.js';
import type { SampleBlock } from '../../protocol/samples.js';
import { expandScenario } from '../../simulator/fleet.js';
import { machineSource } from '../../simulator/scenario.js';
import type { SimClock } from '../../simulator/machine-source.js';
import { mean, oneMachine, record, rms } from './sim-helpers.js';

const bytesOf = (blocks: SampleBlock[]): Buffer =>
  Buffer.concat(
    blocks.flatMap((b) => Object.values(b.channels).map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength))),
  );

const FAULTY = {
  faults: [
    { type: 'bearing-inner', atSeconds: 0.5, failAfterSeconds: 10 },
    { type: 'sensor-spikes', atSeconds: 1, channel: 'current', growth: 'step' },
  ],
};

describe('simulated machines', () => {
  it('the same scenario and seed give the same bytes; a different seed differs', () => {
    const a = bytesOf(record(oneMachine(FAULTY), 3).blocks);
    const b = bytesOf(record(oneMachine(FAULTY), 3).blocks);
    const c = bytesOf(record(oneMachine(FAULTY, { seed: 8 }), 3).blocks);
    expect(a.length).toBeGreaterThan(3000 * 8);
    expect(a.equals(b)).toBe(true);
    expect(a.equals(c)).toBe(false);
    // Seeds follow machine ids, so adding a machine in front changes nobody else's signal.
    const crowded = validate(
      ScenarioSchema,
      {
        seed: 7,
        startEpochMs: 0,
        machines: [
          { id: 'x', site: 's' },
          { id: 'm', site: 's', ...FAULTY },
        ],
      },
      't',
    );
    expect(bytesOf(record(crowded, 3, 'm').blocks).equals(a)).toBe(true);
  });

  it('delivers the vibration block and a slower process block per tick, each at one rate', () => {
    const { channels, rates, blocks } = record(oneMachine({ sampleRateHz: 2000, processRateHz: 10 }), 2);
    expect(channels.vibration!.length).toBe(4000);
    expect(rates.vibration).toBe(2000);
    for (const name of ['temperature', 'current', 'pressure', 'flow']) {
      expect(channels[name]!.length).toBe(20);
      expect(rates[name]).toBe(10);
    }
    for (const block of blocks)
      if (!block.channels.vibration) expect(Object.keys(block.channels)).not.toContain('vibration');
    const motor = record(oneMachine({ kind: 'motor' }), 1).channels;
    expect(Object.keys(motor).sort()).toEqual(['current', 'temperature', 'vibration']);
  });

  it('load changes move process values and vibration without any fault in the ground truth', () => {
    const scenario = oneMachine({
      regimes: [
        { atSeconds: 0, load: 0.4 },
        { atSeconds: 10, load: 1, rampSeconds: 2 },
      ],
    });
    const { channels } = record(scenario, 20);
    const current = channels.current!;
    const flow = channels.flow!;
    expect(mean(current, 150, 200)).toBeGreaterThan(1.3 * mean(current, 0, 90));
    expect(mean(flow, 150, 200)).toBeGreaterThan(2 * mean(flow, 0, 90));
    const v = channels.vibration!;
    expect(rms(v, 15_000, 20_000)).toBeGreaterThan(1.05 * rms(v, 0, 9000));
    const source = machineSource(scenario, 'm', { startEpochMs: 0 });
    for (let t = 0; t < 20; t++) {
      const truth = source.truthAt(t);
      expect(truth.label).toBe(0);
      expect(truth.faults).toEqual([]);
    }
    expect(source.truthAt(15).load).toBe(1);
  });

  it('start-up and shutdown are normal: quiet when stopped, inrush current while starting, label 0 throughout', () => {
    const scenario = oneMachine({
      regimes: [
        { atSeconds: 0, speed: 0 },
        { atSeconds: 2, speed: 1, rampSeconds: 4 },
        { atSeconds: 14, speed: 0, rampSeconds: 2 },
      ],
    });
    const { channels } = record(scenario, 20);
    const v = channels.vibration!;
    expect(rms(v, 0, 2000)).toBeLessThan(0.02);
    expect(rms(v, 8000, 13_000)).toBeGreaterThan(0.3);
    expect(rms(v, 17_000, 20_000)).toBeLessThan(0.02);
    const current = channels.current!;
    expect(Math.max(...current.subarray(20, 60))).toBeGreaterThan(1.5 * mean(current, 80, 130));
    expect(mean(current, 0, 19)).toBeLessThan(0.5);
    const source = machineSource(scenario, 'm', { startEpochMs: 0 });
    expect(source.truthAt(1).running).toBe(false);
    expect(source.truthAt(10).running).toBe(true);
    expect([1, 4, 10, 15, 19].map((t) => source.truthAt(t).label)).toEqual([0, 0, 0, 0, 0]);
  });

  it('ground truth carries fault type, onset, growth and remaining useful life at every moment', () => {
    const scenario = oneMachine(
      { faults: [{ type: 'bearing-outer', atSeconds: 100, failAfterSeconds: 1000 }] },
      { startEpochMs: 1_000_000 },
    );
    const source = machineSource(scenario, 'm');
    expect(source.truthAt(99)).toMatchObject({ t: 1_099_000, label: 0, rulSeconds: null, faults: [] });
    const early = source.truthAt(200);
    const late = source.truthAt(1000);
    expect(early).toMatchObject({
      label: 1,
      rulSeconds: 900,
      faults: [{ type: 'bearing-outer', category: 'machine', onset: 1_100_000 }],
    });
    expect(late.rulSeconds).toBe(100);
    expect(late.faults[0]!.severity).toBeGreaterThan(early.faults[0]!.severity);
    expect(source.truthAt(2000)).toMatchObject({ rulSeconds: 0, faults: [{ severity: 1 }] });
    // Exponential growth: slow at first, fast near the end.
    expect(early.faults[0]!.severity).toBeLessThan(0.02);
  });

  it('sensor faults corrupt one channel and are labelled as sensor faults, not machine faults', () => {
    const fault = (type: string, channel: string) => ({ type, channel, atSeconds: 1, growth: 'step' });
    const scenario = oneMachine({
      faults: [
        fault('sensor-stuck', 'temperature'),
        fault('sensor-dropout', 'vibration'),
        fault('sensor-drift', 'pressure'),
        fault('sensor-spikes', 'current'),
      ],
    });
    const { channels } = record(scenario, 6);
    const temperature = channels.temperature!.subarray(10);
    expect(new Set(temperature).size).toBe(1);
    expect(channels.vibration!.subarray(0, 1000).some(Number.isNaN)).toBe(false);
    expect(channels.vibration!.subarray(1000).some(Number.isNaN)).toBe(true);
    expect(mean(channels.pressure!, 10, 60) - mean(channels.pressure!, 0, 10)).toBeGreaterThan(0.8);
    const current = channels.current!;
    expect(Math.max(...current.subarray(10).map((x) => Math.abs(x - mean(current, 0, 10))))).toBeGreaterThan(20);
    const truth = machineSource(scenario, 'm').truthAt(3);
    expect(truth.label).toBe(0);
    expect(truth.faults.map((f) => f.category)).toEqual(['sensor', 'sensor', 'sensor', 'sensor']);
    expect(truth.faults[0]).toMatchObject({ type: 'sensor-stuck', channel: 'temperature' });
  });

  it('cavitation makes pressure fluctuate and flow drop; overheating drifts temperature up', () => {
    const base = record(oneMachine({}), 30).channels;
    const cav = record(oneMachine({ faults: [{ type: 'cavitation', atSeconds: 0, growth: 'step' }] }), 30).channels;
    const sd = (x: Float64Array) => Math.sqrt(mean(x.map((v) => (v - mean(x)) ** 2)));
    expect(sd(cav.pressure!)).toBeGreaterThan(10 * sd(base.pressure!));
    expect(mean(cav.flow!)).toBeLessThan(0.85 * mean(base.flow!));
    expect(rms(cav.vibration!)).toBeGreaterThan(1.5 * rms(base.vibration!));
    const hot = record(oneMachine({ faults: [{ type: 'overheating', atSeconds: 0, growth: 'step' }] }), 300).channels
      .temperature!;
    expect(mean(hot, 2900, 3000) - mean(hot, 0, 100)).toBeGreaterThan(20);
  });

  it('keeps the demo contract: pump-001 goes well over 1.5 g RMS after 8 s; healthy pumps stay well below', () => {
    const demo = loadScenario('config/scenarios/demo.yaml', {});
    const second = (id: string, s: number) => {
      const v = record(demo, s + 1, id).channels.vibration!;
      return rms(v, s * 1000, (s + 1) * 1000);
    };
    expect(second('pump-001', 7)).toBeLessThan(0.8);
    expect(second('pump-001', 9)).toBeGreaterThan(2);
    expect(second('pump-002', 10)).toBeLessThan(0.9);
    expect(second('pump-003', 12)).toBeLessThan(0.8);
  });

  it('stamps real-time, accelerated and as-fast-as-possible runs alike', async () => {
    const scenario = oneMachine({ faults: [{ type: 'imbalance', atSeconds: 1 }] }, { startEpochMs: 5000 });
    let now = 0;
    let tick: (() => void) | undefined;
    const clock: SimClock = { now: () => now, setInterval: (fn) => ((tick = fn), {}), clearInterval: () => undefined };
    const collect = async (speed: number | 'max') => {
      const blocks: SampleBlock[] = [];
      const source = machineSource(scenario, 'm', { speed, clock, durationSeconds: 2 });
      await source.start((block) => blocks.push(block));
      for (let i = 0; i < 100 && !source.done; i++) {
        now += 100;
        tick?.();
      }
      await source.ended;
      return blocks;
    };
    const real = await collect(1);
    const fast = await collect(10);
    const flat = await collect('max');
    expect(real.map((b) => b.t0)).toEqual(flat.map((b) => b.t0));
    expect(fast.map((b) => b.t0)).toEqual(flat.map((b) => b.t0));
    expect(flat[0]!.t0).toBe(5000);
    expect(bytesOf(real).equals(bytesOf(flat))).toBe(true);
  });
});

describe('scenarios', () => {
  it('expands fleets with seeded random faults and load changes', () => {
    const scenario = validate(
      ScenarioSchema,
      {
        seed: 3,
        durationSeconds: 36_000,
        fleets: [
          {
            prefix: 'fan',
            count: 20,
            site: 's',
            kind: 'fan',
            randomFaults: { perMachinePerHour: 0.2 },
            loadChangeEverySeconds: 3600,
          },
        ],
      },
      'test',
    );
    const machines = expandScenario(scenario);
    expect(machines.map((m) => m.id).slice(0, 2)).toEqual(['fan-001', 'fan-002']);
    expect(machines).toHaveLength(20);
    const faults = machines.flatMap((m) => m.faults);
    expect(faults.length).toBeGreaterThan(10);
    expect(faults.every((f) => f.atSeconds < 36_000)).toBe(true);
    expect(machines.some((m) => m.regimes.length > 0)).toBe(true);
    expect(JSON.stringify(expandScenario(scenario))).toBe(JSON.stringify(machines));
    const other = expandScenario({ ...scenario, seed: 4 });
    expect(JSON.stringify(other)).not.toBe(JSON.stringify(machines));
  });

  it('rejects faults that do not fit the machine, naming machine and fault', () => {
    const bad = (machine: Record<string, unknown>) => () => expandScenario(oneMachine(machine));
    expect(bad({ kind: 'fan', faults: [{ type: 'cavitation', atSeconds: 1 }] })).toThrow(
      /machine "m" faults.0 \(cavitation\): cavitation happens in pumps only/,
    );
    expect(bad({ kind: 'motor', faults: [{ type: 'sensor-stuck', atSeconds: 1, channel: 'flow' }] })).toThrow(
      /channel "flow" is not one of this machine's/,
    );
    expect(bad({ faults: [{ type: 'vibration-step', atSeconds: 1 }] })).toThrow(/needs "factor"/);
    expect(() => oneMachine({ faults: [{ type: 'rust', atSeconds: 1 }] })).toThrow(/key "machines.0.faults.0.type"/);
    try {
      machineSource(oneMachine({}), 'nope');
    } catch (error) {
      expect(isPdmError(error, 'PDM_ERR_CONFIG_INVALID')).toBe(true);
      expect((error as Error).message).toContain('machine "nope" is not in the scenario (machines: m)');
    }
  });
});
