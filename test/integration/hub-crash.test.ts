import { existsSync, watch } from 'node:fs';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { IdentityStore } from '../../hub/auth/identities.js';
import { readStoredState } from '../../hub/store/restore.js';
import { readStoredSqlite } from '../../hub/store/sql/sqlite-medium.js';
import { SQLITE_FILE } from '../../hub/store/sql/sqlite.js';
import type { HubState } from '../../hub/store/state.js';
import { encode } from '../../protocol/codec.js';
import { anomalyEvent, connectDevice, forkHub, tempDir, type HubProcess } from './hub-helpers.js';
import { exited } from '../../testkit/processes.js';

const DEVICES = 4;
const EVENTS_PER_DEVICE = 250;
const KILL_AFTER_ACKS = 150;
const IN_FLIGHT = 32;

/** What the data directory holds (files, or hub.db), as the next start would load it. */
const storedState = (dataDir: string, engine: string): HubState =>
  engine === 'sqlite' ? readStoredSqlite(join(dataDir, SQLITE_FILE)) : readStoredState(dataDir);

function storedEventIds(dataDir: string, engine: string): string[] {
  return storedState(dataDir, engine).inspections.flatMap((i) => i.events.map((e) => e.id));
}

/** The file engine's own failure modes (its journal generations, state.json and its .prev copy). */
const FILE_ENGINE = { PDM_HUB_STORE_ENGINE: 'file' };

describe('hub process killed with SIGKILL during a burst (real processes, real broker, real files)', () => {
  let hub: HubProcess | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    if (hub && hub.child.exitCode === null && hub.child.signalCode === null) hub.child.kill('SIGKILL');
    await cleanup?.();
  });

  const OLDER = 'state.journal.older';
  it.each<{ when: string; engine: 'file' | 'sqlite'; env: Record<string, string>; killOn: 'acks' | 'fold' }>([
    { when: 'mid-burst', engine: 'file', env: FILE_ENGINE, killOn: 'acks' },
    // Small journal generations: folds start all through the burst; the kill comes as soon as one is under way.
    {
      when: 'while the journal is folded into the snapshot',
      engine: 'file',
      env: { ...FILE_ENGINE, PDM_HUB_STORE_SNAPSHOT_JOURNAL_BYTES: String(64 * 1024) },
      killOn: 'fold',
    },
    // The default engine: each group commit is a transaction of hub.db, committed before the PUBACKs.
    { when: 'mid-burst', engine: 'sqlite', env: { PDM_HUB_STORE_ENGINE: 'sqlite' }, killOn: 'acks' },
  ])(
    'keeps every acknowledged event exactly once after a kill $when on the $engine engine and a restart, and replays add nothing',
    async ({ engine, env, killOn }) => {
      const tmp = await tempDir();
      cleanup = tmp.cleanup;
      const identities = await IdentityStore.open(tmp.dir);
      const secrets = new Map<string, string>();
      for (let d = 0; d < DEVICES; d += 1)
        secrets.set(`pump-${d}`, (await identities.addDevice('plant-1', `pump-${d}`)).secret);
      const burst = [...secrets.keys()].map((device) =>
        Array.from({ length: EVENTS_PER_DEVICE }, (_, n) =>
          encode('event', anomalyEvent('plant-1', device, { asset: `${device}-motor-${n % 3}` })),
        ),
      );
      const idOf = (payload: Buffer) => (JSON.parse(payload.toString('utf8')) as { id: string }).id;

      hub = await forkHub(tmp.dir, env);
      const clients: MqttClient[] = [];
      for (const device of secrets.keys())
        clients.push(await connectDevice(hub.mqttPort, 'plant-1', device, secrets.get(device)!));
      const acked = new Set<string>();
      const killed = new Promise<void>((resolve) => {
        // A fold is under way from the new generation (its older one kept) until the new snapshot is durable.
        const watcher =
          killOn === 'fold'
            ? watch(tmp.dir, (_, name) => {
                if (name !== OLDER || !existsSync(join(tmp.dir, OLDER))) return;
                hub!.child.kill('SIGKILL');
                watcher?.close();
                resolve();
              })
            : undefined;
        burst.forEach((messages, d) => {
          const client = clients[d]!;
          client.on('error', () => undefined);
          // At most IN_FLIGHT unacknowledged per device, so the hub cannot finish the burst before a loaded test
          // process has read the acks that trigger the kill.
          let next = 0;
          const send = () => {
            const m = messages[next++];
            if (!m) return;
            client.publish(m.topic, m.payload, { qos: 1 }, (error) => {
              if (error) return;
              acked.add(idOf(m.payload));
              if (acked.size === (killOn === 'acks' ? KILL_AFTER_ACKS : DEVICES * EVENTS_PER_DEVICE)) {
                hub!.child.kill('SIGKILL');
                resolve();
              }
              send();
            });
          };
          for (let i = 0; i < IN_FLIGHT; i += 1) send();
        });
      });
      await killed;
      expect((await exited(hub.child)).signal).toBe('SIGKILL');
      const ackedBeforeKill = new Set(acked); // callbacks already queued may still add a few; count only these
      for (const client of clients) await client.endAsync(true);
      const total = DEVICES * EVENTS_PER_DEVICE;
      expect(ackedBeforeKill.size).toBeLessThan(total); // the kill really came mid-burst
      if (killOn === 'fold') expect(existsSync(join(tmp.dir, OLDER))).toBe(true); // and mid-fold

      // What survived on disk: every acknowledged event, none twice.
      const afterCrash = storedEventIds(tmp.dir, engine);
      expect(new Set(afterCrash).size).toBe(afterCrash.length);
      const stored = new Set(afterCrash);
      expect([...ackedBeforeKill].filter((id) => !stored.has(id))).toEqual([]);

      // Restart and let the agents replay everything (as their outboxes would): nothing new for what was stored.
      hub = await forkHub(tmp.dir, env);
      const again: MqttClient[] = [];
      for (const device of secrets.keys())
        again.push(await connectDevice(hub.mqttPort, 'plant-1', device, secrets.get(device)!));
      await Promise.all(
        burst.flatMap((messages, d) => messages.map((m) => again[d]!.publishAsync(m.topic, m.payload, { qos: 1 }))),
      );
      for (const client of again) await client.endAsync();
      hub.child.kill('SIGTERM');
      expect((await exited(hub.child)).code).toBe(0);

      const final = storedEventIds(tmp.dir, engine);
      expect(final).toHaveLength(total);
      expect(new Set(final).size).toBe(total);
      const state = storedState(tmp.dir, engine);
      expect(state.seenEvents.size).toBe(total);
      // One inspection per asset: correlation held across the crash as well.
      expect(new Set(state.inspections.map((i) => i.asset)).size).toBe(state.inspections.length);
      expect(state.inspections).toHaveLength(DEVICES * 3);
      expect(existsSync(join(tmp.dir, OLDER))).toBe(false); // the restarted hub finished the fold the kill cut short
    },
  );

  it('keeps acknowledging when a fold into the snapshot fails, says so in its log and metrics, and heals at a clean stop', async () => {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    const identities = await IdentityStore.open(tmp.dir);
    const { secret } = await identities.addDevice('plant-1', 'pump-0');
    const env = { ...FILE_ENGINE, PDM_HUB_STORE_SNAPSHOT_JOURNAL_BYTES: String(64 * 1024) };
    hub = await forkHub(tmp.dir, env);
    hub.child.kill('SIGTERM'); // a clean stop writes the first state.json
    await exited(hub.child);
    hub = await forkHub(tmp.dir, env);
    await writeFile(join(tmp.dir, 'state.json'), '{"schema":1,"inspec'); // damaged behind the running hub's back
    const client = await connectDevice(hub.mqttPort, 'plant-1', 'pump-0', secret);
    const metric = async () =>
      /^pdm_store_failing\{part="snapshot"\} (\d)$/m.exec(await (await fetch(`${hub!.httpUrl}/metrics`)).text())?.[1];
    expect(await metric()).toBe('0');
    let acked = 0;
    // Enough journal for a fold: its worker finds the snapshot damaged; ingest goes on regardless.
    for (let n = 0; n < 600 && (await metric()) !== '1'; n += 1) {
      const m = encode('event', anomalyEvent('plant-1', 'pump-0', { asset: `motor-${n}` }));
      await client.publishAsync(m.topic, m.payload, { qos: 1 });
      acked += 1;
    }
    expect(await metric()).toBe('1');
    const m = encode('event', anomalyEvent('plant-1', 'pump-0', { asset: 'after-the-failure' }));
    await client.publishAsync(m.topic, m.payload, { qos: 1 }); // acknowledged: on disk in the journal
    await client.endAsync();
    const log = await readFile(join(tmp.dir, 'hub.log'), 'utf8');
    const failure = log.split('\n').find((line) => line.includes('snapshot fold failed'));
    expect(failure).toContain('PDM_ERR_STORE_CORRUPT');
    expect(failure).toContain('state.json');
    expect(acked).toBeGreaterThan(50); // it took 64 KiB of journal to start the fold
    // A clean stop writes the snapshot from memory: the next start has every event.
    hub.child.kill('SIGTERM');
    expect((await exited(hub.child)).code).toBe(0);
    expect(storedEventIds(tmp.dir, 'file')).toHaveLength(acked + 1);
    hub = await forkHub(tmp.dir, env);
    expect(await metric()).toBe('0');
  });

  it('refuses to start on a corrupt state file with a clear error, and keeps the good copy', async () => {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    const identities = await IdentityStore.open(tmp.dir);
    const { secret } = await identities.addDevice('plant-1', 'pump-0');
    // Two runs, each stopped cleanly (a snapshot at each stop): the first run's snapshot becomes the .prev copy.
    for (const assets of [['a0', 'a1', 'a2'], ['a3']]) {
      hub = await forkHub(tmp.dir, FILE_ENGINE);
      const client = await connectDevice(hub.mqttPort, 'plant-1', 'pump-0', secret);
      for (const asset of assets) {
        const m = encode('event', anomalyEvent('plant-1', 'pump-0', { asset }));
        await client.publishAsync(m.topic, m.payload, { qos: 1 });
      }
      await client.endAsync();
      hub.child.kill('SIGTERM');
      expect((await exited(hub.child)).code).toBe(0);
    }
    const prev = await readFile(join(tmp.dir, 'state.json.prev'), 'utf8');
    await writeFile(join(tmp.dir, 'state.json'), '{"schema":1,"inspec');

    await expect(forkHub(tmp.dir, FILE_ENGINE)).rejects.toThrow(
      new RegExp(
        /pdm hub: state file is corrupt: .*state\.json is not valid JSON .*previous good copy is .*state\.json\.prev/
          .source + /.*journals .* are replayed.*\[PDM_ERR_STORE_CORRUPT\]/.source,
      ),
    );
    expect(await readFile(join(tmp.dir, 'state.json.prev'), 'utf8')).toBe(prev);
    expect((JSON.parse(prev) as HubState).inspections).toHaveLength(3);
    // Following the advice loses nothing: the previous journal generation replays the second run over the old copy.
    await copyFile(join(tmp.dir, 'state.json.prev'), join(tmp.dir, 'state.json'));
    expect(
      readStoredState(tmp.dir)
        .inspections.map((i) => i.asset)
        .sort(),
    ).toEqual(['a0', 'a1', 'a2', 'a3']);
  });
});
