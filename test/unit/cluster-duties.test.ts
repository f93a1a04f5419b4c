import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { LeaderDuties, type Duty } from '../../hub/cluster/duties.js';
import { subscribers } from '../../hub/mqtt/external.js';

const silent = pino({ level: 'silent' });

/** A duty that records its starts and stops, and fails its first `failures` starts. */
function recording(name: string, log: string[], failures = 0): Duty {
  let left = failures;
  return {
    name,
    start: async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (left-- > 0) throw new Error(`${name} cannot start yet`);
      log.push(`start ${name}`);
    },
    stop: () => void log.push(`stop ${name}`),
  };
}

describe("the leader's duties", () => {
  it('start in order on lead and stop in reverse on follow, one change at a time, on the latest word', async () => {
    const log: string[] = [];
    const duties = new LeaderDuties({ duties: [recording('a', log), recording('b', log)], logger: silent });
    duties.lead();
    await new Promise((resolve) => setTimeout(resolve, 1));
    duties.follow(); // lost while a is starting: b is not started, a is stopped once started
    await duties.settled();
    expect(log).toEqual(['start a', 'stop a']);
    expect(duties.active).toBe(false);
    duties.lead();
    duties.follow();
    duties.lead(); // asked before any ran: leading, once
    await duties.settled();
    expect(log.slice(2)).toEqual(['start a', 'start b']);
    expect(duties.active).toBe(true);
    await duties.close();
    expect(log.slice(4)).toEqual(['stop b', 'stop a']);
  });

  it('tries a duty that failed to start again while leading, leaving the others running', async () => {
    const log: string[] = [];
    const duties = new LeaderDuties({
      duties: [recording('session', log, 2), recording('sweep', log)],
      logger: silent,
      retryMs: 20,
    });
    duties.lead();
    await duties.settled();
    expect(log).toEqual(['start sweep']);
    expect(duties.active).toBe(false);
    for (let i = 0; i < 100 && !duties.active; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(log).toEqual(['start sweep', 'start session']);
    await duties.close();
  });

  it('starts nothing after close, whatever the lease says later', async () => {
    const log: string[] = [];
    const duties = new LeaderDuties({ duties: [recording('a', log)], logger: silent });
    await duties.close();
    duties.lead();
    await duties.settled();
    expect(log).toEqual([]);
  });
});

describe('external broker sessions', () => {
  it('names event sessions per process in shared mode, in one share group, beside the one ordered session', () => {
    const single = subscribers('pdm-hub', 2);
    const shared = subscribers('pdm-hub', 2, 'hub-a');
    expect(single.map((s) => s.clientId)).toEqual(['pdm-hub', 'pdm-hub-e0', 'pdm-hub-e1']);
    expect(shared.map((s) => s.clientId)).toEqual([
      'pdm-hub',
      'pdm-hub-hub-a-e0',
      'pdm-hub-hub-a-e1',
      'pdm-hub-hub-a-view',
    ]);
    expect(shared.slice(0, 3).map((s) => s.topics)).toEqual(single.map((s) => s.topics));
    expect(shared[1]!.topics).toEqual(['$share/pdm-hub/pdm/v1/+/+/event']);
    expect(single.every((s) => s.qos === 1 && !s.view)).toBe(true);
  });

  it('gives each process in shared mode a clean QoS 0 view session of every status, event and telemetry, in no share group', () => {
    const view = subscribers('pdm-hub', 2, 'hub-a').at(-1)!;
    expect(view).toEqual({
      clientId: 'pdm-hub-hub-a-view',
      topics: ['pdm/v1/+/+/status', 'pdm/v1/+/+/event', 'pdm/v1/+/+/telemetry'],
      drop: [],
      qos: 0,
      view: true,
    });
  });
});
