import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'vitest';
import { IdentityStore } from '../../hub/auth/identities.js';
import type { RunningHub } from '../../hub/hub.js';
import type { Inspection } from '../../hub/inspections/records.js';
import { Ingest } from '../../hub/mqtt/ingest.js';
import type { HubState } from '../../hub/store/state.js';
import { HubStore } from '../../hub/store/store.js';
import { encode } from '../../protocol/codec.js';
import { uuidv7 } from '../../protocol/uuid.js';
import { exited } from '../../testkit/processes.js';
import { anomalyEvent, hubConfig, silent, startTestHub } from './hub-helpers.js';

export const ARCHIVING = { archiveClosedAfterMinutes: 0, eventsInMemory: 4 };

/**
 * A data directory as today's file engine leaves it: closed inspections archived whole and one not yet, an open one
 * with spilled events, open ones in the snapshot, a login session and a training job, and the last changes only in the journal
 * (the hub killed, not stopped).
 */
export async function fileEngineDir(dir: string, dedupEntries = 0): Promise<void> {
  const users = await IdentityStore.open(dir);
  await users.addUser('tina', 'technician', 'correct horse battery');
  users.close();
  const tina = { name: 'tina', role: 'technician' as const };
  const send = async (hub: Pick<RunningHub, 'ingest' | 'store'>, asset: string, events: number) => {
    const episodeId = anomalyEvent('plant-1', 'x').episodeId;
    for (let e = 0; e < events; e += 1) {
      const m = encode(
        'event',
        anomalyEvent('plant-1', `pump-${asset.length % 3}`, { asset, severity: 'critical', episodeId }),
      );
      await hub.ingest.handle(m.topic, m.payload);
    }
    return hub.store.hotInspections().find((i) => i.asset === asset)!.id;
  };
  const first = await startTestHub(dir, { store: { engine: 'file', coalesceMs: 2, ...ARCHIVING } });
  for (let k = 0; k < 12; k += 1) {
    const id = await send(first, `closed-${k}`, 3);
    await first.workflow.transition(id, { action: 'false_alarm', note: 'checked' }, tina);
  }
  await send(first, 'open-long', 20); // more events than it keeps in memory: the rest spilled to the archive
  await send(first, 'open-a', 2);
  const login = await fetch(`${first.httpUrl}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'tina', password: 'correct horse battery' }),
  });
  expect(login.status).toBe(200);
  await first.training!.submit({ device: 'plant-1/pump-0' }, 'tina'); // fails (no telemetry), and is kept so
  await first.training!.idle();
  for (let i = 0; i < 3; i += 1) await first.store.flush();
  await first.close(); // a snapshot
  // One closed inspection the next hub keeps in its state (it archives closed ones only after the default hours).
  const second = await startTestHub(dir, { store: { engine: 'file', coalesceMs: 2 } });
  await second.workflow.transition(await send(second, 'closed-hot', 2), { action: 'false_alarm', note: 'ok' }, tina);
  await second.close();
  // Then, as after a kill: a store that journals two more events and is never closed (close() would fold them in).
  const store = await HubStore.open(dir, { coalesceMs: 2 });
  const ingest = new Ingest({ store, logger: silent, maxPayloadBytes: 65536, routing: hubConfig(dir).routing });
  await send({ ingest, store }, 'journal-only', 2);
  // Dedup entries of ignored events, to make the journal (and so the import) as big as a busy hub's.
  for (let i = 0; i < dedupEntries; i += 1) {
    const id = uuidv7();
    store.state.seenEvents.set(id, 'ignored');
    store.touch('seen', id);
  }
  await store.commit();
  await store.flush();
}

/** Every inspection, whole, by id: what the API can show. */
export const byId = (state: HubState): Map<string, Inspection> => new Map(state.inspections.map((i) => [i.id, i]));

/** `pdm hub <args>` in a process of its own, on the shipped config with `dir` as its data directory. */
export function pdmHub(dir: string, env: Record<string, string>, ...args: string[]) {
  const child = spawn(process.execPath, [join('dist', 'cli', 'pdm.js'), 'hub', ...args], {
    env: { ...process.env, PDM_HUB_DATA_DIR: dir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return { child, output: () => out };
}

/** Starts `run` again after each delay and kills it with SIGKILL then, until one run ends by itself (with success). */
export async function killAfter(delays: number[], run: () => ReturnType<typeof pdmHub>): Promise<void> {
  for (const delay of delays) {
    const started = run();
    await new Promise((resolve) => setTimeout(resolve, delay));
    started.child.kill('SIGKILL');
    const { signal, code } = await exited(started.child);
    if (signal !== 'SIGKILL') {
      expect(code, started.output()).toBe(0);
      return;
    }
  }
}
