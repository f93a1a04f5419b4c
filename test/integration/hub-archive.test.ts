import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdentityStore } from '../../hub/auth/identities.js';
import type { RunningHub } from '../../hub/hub.js';
import type { Kpis } from '../../hub/inspections/kpis.js';
import type { Inspection } from '../../hub/inspections/records.js';
import { encode } from '../../protocol/codec.js';
import { anomalyEvent, startTestHub, tempDir } from './hub-helpers.js';

const PASSWORD = 'correct horse battery';
const CLOSED = 60;
const OPEN = 3;

/**
 * Closed inspections leave the hub's memory (store.archiveClosedAfterMinutes), yet the API answers as before:
 * by id, in lists with filters, in the KPIs, before and after a restart.
 */
describe('hub API over archived inspections', () => {
  let hub: RunningHub;
  let dir: string;
  let cleanup: () => Promise<void>;
  const opts = { store: { coalesceMs: 2, archiveClosedAfterMinutes: 0, eventsInMemory: 8 } };
  const ids: string[] = [];

  beforeAll(async () => {
    const tmp = await tempDir();
    dir = tmp.dir;
    cleanup = tmp.cleanup;
    const users = await IdentityStore.open(dir);
    await users.addUser('tina', 'technician', PASSWORD);
    users.close();
    hub = await startTestHub(dir, opts);
    for (let k = 0; k < CLOSED + OPEN; k += 1) {
      const episodeId = anomalyEvent('plant-1', 'x').episodeId;
      for (let e = 0; e < 4; e += 1) {
        const m = encode(
          'event',
          anomalyEvent(k % 2 ? 'plant-1' : 'plant-2', `pump-${k % 5}`, {
            asset: `asset-${k}`,
            severity: 'critical',
            episodeId,
          }),
        );
        await hub.ingest.handle(m.topic, m.payload);
      }
      ids.push(hub.store.state.inspections.at(-1)!.id);
    }
    for (const id of ids.slice(0, CLOSED))
      await hub.workflow.transition(
        id,
        { action: 'false_alarm', note: 'checked' },
        { name: 'tina', role: 'technician' },
      );
    for (let i = 0; i < 3; i += 1) await hub.store.flush();
  });
  afterAll(async () => {
    await hub?.close();
    await cleanup();
  });

  async function session(): Promise<string> {
    const res = await fetch(`${hub.httpUrl}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'tina', password: PASSWORD }),
    });
    return (res.headers.get('set-cookie') ?? '').split(';')[0]!;
  }
  const get = async <T>(path: string, cookie: string): Promise<T> => {
    const res = await fetch(`${hub.httpUrl}${path}`, { headers: { cookie } });
    expect(res.status).toBe(200);
    return (await res.json()) as T;
  };

  async function expectAllThere(): Promise<void> {
    const cookie = await session();
    const all = await get<Inspection[]>('/api/inspections', cookie);
    expect(all.map((i) => i.id).sort()).toEqual([...ids].sort());
    const falseAlarms = await get<Inspection[]>('/api/inspections?status=false_alarm&site=plant-2', cookie);
    expect(falseAlarms.map((i) => i.id).sort()).toEqual(
      ids
        .slice(0, CLOSED)
        .filter((_, k) => k % 2 === 0)
        .sort(),
    );
    expect(falseAlarms.every((i) => i.events.length === 4 && i.audit.length === 2)).toBe(true);
    expect((await get<Inspection[]>('/api/inspections?device=pump-3&status=false_alarm', cookie)).length).toBe(
      CLOSED / 5,
    );
    const one = await get<Inspection>(`/api/inspections/${ids[7]}`, cookie);
    expect(one).toMatchObject({ id: ids[7], status: 'false_alarm', site: 'plant-1', asset: 'asset-7' });
    expect(one.events).toHaveLength(4);
    const kpis = await get<Kpis>('/api/kpis', cookie);
    expect(kpis.inspections).toBe(CLOSED + OPEN);
    expect(kpis.falseAlarmShare).toBe(1);
    expect(kpis.sites['plant-1']!.inspections).toBe(ids.filter((_, k) => k % 2 === 1).length);
    expect((await get<{ inspections: number }>('/api/stats', cookie)).inspections).toBe(CLOSED + OPEN);
    const metrics = await (await fetch(`${hub.httpUrl}/metrics`)).text();
    // The Prometheus gauge counts the archived ones too (they are not in the state).
    const closed = all.filter((i) => i.status === 'false_alarm').length;
    expect(closed).toBeGreaterThan(0);
    expect(Number(/^pdm_inspections\{status="false_alarm"\} (\d+)$/m.exec(metrics)?.[1])).toBe(closed);
  }

  it('keeps only the open inspections in memory and still answers for every closed one', async () => {
    expect(hub.store.state.inspections.map((i) => i.id)).toEqual(ids.slice(CLOSED));
    expect(hub.store.archivedCount).toBe(CLOSED);
    await expectAllThere();
  });

  it('answers the same after a restart, with the closed ones still out of memory', async () => {
    await hub.close();
    hub = await startTestHub(dir, opts);
    expect(hub.store.state.inspections.map((i) => i.id)).toEqual(ids.slice(CLOSED));
    expect(hub.store.archivedCount).toBe(CLOSED);
    await expectAllThere();
  });

  it('shows every event of an inspection that took more than it keeps in memory', async () => {
    const episodeId = anomalyEvent('plant-1', 'x').episodeId;
    const sent: string[] = [];
    for (let e = 0; e < 30; e += 1) {
      const event = anomalyEvent('plant-1', 'pump-9', { asset: 'chronic', severity: 'critical', episodeId });
      sent.push(event.id);
      const m = encode('event', event);
      await hub.ingest.handle(m.topic, m.payload);
    }
    for (let i = 0; i < 3; i += 1) await hub.store.flush();
    const live = hub.store.state.inspections.find((i) => i.asset === 'chronic')!;
    expect(live.events.length).toBeLessThanOrEqual(8);
    const cookie = await session();
    expect((await get<Inspection>(`/api/inspections/${live.id}`, cookie)).events.map((e) => e.id)).toEqual(sent);
    const listed = await get<Inspection[]>('/api/inspections?asset=chronic', cookie);
    expect(listed.map((i) => i.events.length)).toEqual([30]);
  });
});
