import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultTrainingData } from '../../cli/commands/train.js';
import type { RolloutState } from '../../hub/registry/rollout.js';
import {
  SITE,
  shippedCopy,
  startAgentSide,
  startHubSide,
  until,
  variant,
  type AgentSide,
  type HubSide,
} from './model-sync-support.js';

/**
 * Staged rollout with a real broker, real HTTP and two agent-side model syncs with real onnxruntime sessions:
 * pump-c is the canary, pump-f the rest of the fleet.
 */
const dir = mkdtempSync(join(tmpdir(), 'pdm-rollout-'));
const normal = defaultTrainingData(6, 10).healthy.slice(0, 20);
/** The hub's inspections as the registry sees them; the test adds the canary's alarms. */
const inspections: Array<{
  site: string;
  device: string;
  events: Array<{ kind: string; device: string; at: number }>;
}> = [];
let hub: HubSide;
let canary: AgentSide;
let fleet: AgentSide;
let shipped: string;
const devices = { canaries: [{ site: SITE, device: 'pump-c' }], rest: [{ site: SITE, device: 'pump-f' }] };

const versionsSeen = (a: AgentSide): string[] => a.outcomes.map((o) => `${o.version}:${o.result}`);
const getRollout = async (id: string): Promise<RolloutState> =>
  (await fetch(`${hub.httpBase}/api/rollouts/${id}`)).json() as Promise<RolloutState>;
/** The hub's rollout timer, every 50 ms (the test hub's own is slow so other tests tick by hand); returns its stop. */
const ticking = (): (() => void) => {
  const timer = setInterval(() => void hub.registry.tick(), 50);
  return () => clearInterval(timer);
};

beforeAll(async () => {
  shipped = shippedCopy(dir);
  hub = await startHubSide(join(dir, 'hub'), { inspections });
  canary = await startAgentSide(hub, 'pump-c', shipped, hub.registry.publicKeyPem);
  fleet = await startAgentSide(hub, 'pump-f', shipped, hub.registry.publicKeyPem);
  await Promise.all([canary.model.score(normal), fleet.model.score(normal)]);
});

afterAll(async () => {
  await canary?.close();
  await fleet?.close();
  await hub?.close();
});

describe('staged rollout', () => {
  it('a healthy model reaches the canary first and the fleet only after the canary applied it', async () => {
    const entry = hub.registry.addFromCard(variant(shipped, dir, '2.0.0'));
    const stop = ticking();
    const r = await hub.registry.start({ model: entry, ...devices, policy: { soakMs: 0 } });
    await until(() => hub.registry.rollout(r.id)?.stage === 'completed', 'the rollout to complete').finally(stop);
    expect([canary.model.card.version, fleet.model.card.version]).toEqual(['2.0.0', '2.0.0']);
    const steps = (await getRollout(r.id)).steps.map((s) => s.step);
    expect(steps).toEqual([
      'started',
      'canaries-sent',
      'ack-applied',
      'canaries-healthy',
      'fleet-sent',
      'ack-applied',
      'completed',
    ]);
  });

  it('a canary that rejects the model stops the rollout and rolls back; the fleet never gets it', async () => {
    const graph = readFileSync(join(dir, 'pump-vibration-pca.onnx'));
    const entry = hub.registry.addFromCard(variant(shipped, dir, '3.0.0', graph.subarray(0, 100)));
    const r = await hub.registry.start({ model: entry, ...devices, policy: { soakMs: 0 } });
    await until(() => hub.registry.rollout(r.id)?.stage === 'rolled_back', 'the rollback');
    // The canary is sent its previous model again and confirms it is running it.
    await until(
      () => versionsSeen(canary).filter((v) => v === '2.0.0:applied').length === 2,
      'the canary to confirm 2.0.0',
    );
    const state = await getRollout(r.id);
    expect(state.reason).toMatch(/canary plant-m\/pump-c rejected the model: PDM_ERR_MODEL_INVALID/);
    expect(state.devices.map((d) => [d.device, d.status])).toEqual([
      ['pump-c', 'rejected'],
      ['pump-f', 'waiting'],
    ]);
    expect(state.steps.map((s) => s.step)).toEqual(['started', 'canaries-sent', 'ack-rejected', 'rolled-back']);
    expect(versionsSeen(fleet)).not.toContain('3.0.0:rejected');
    expect(fleet.outcomes.some((o) => o.version === '3.0.0')).toBe(false);
    expect([canary.model.card.version, fleet.model.card.version]).toEqual(['2.0.0', '2.0.0']);
    expect((await canary.model.score(normal.slice(0, 3))).every((s) => Number.isFinite(s.score))).toBe(true);
  });

  it('a canary whose alarm rate rises beyond the factor is rolled back to its previous model', async () => {
    const entry = hub.registry.addFromCard(variant(shipped, dir, '4.0.0'));
    const r = await hub.registry.start({
      model: entry,
      ...devices,
      policy: { soakMs: 60_000, alarmFactor: 3, minAlarms: 3 },
    });
    await until(
      () => canary.model.card.version === '4.0.0' && hub.registry.rollout(r.id)?.devices[0]?.status === 'applied',
      'the canary to apply 4.0.0',
    );
    await hub.registry.tick();
    expect(hub.registry.rollout(r.id)?.stage).toBe('canary'); // no alarms yet, soak not over: nothing moves
    const appliedAt = hub.registry.rollout(r.id)!.devices[0]!.at!;
    // Two alarms (clears do not count) are under minAlarms: nothing moves.
    inspections.push({
      site: SITE,
      device: 'pump-c',
      events: [0, 1, 2, 3].map((i) => ({ kind: i % 2 ? 'clear' : 'anomaly', device: 'pump-c', at: appliedAt })),
    });
    await hub.registry.tick();
    expect(hub.registry.rollout(r.id)?.stage).toBe('canary');
    inspections.push({
      site: SITE,
      device: 'pump-c',
      events: [0, 1].map(() => ({ kind: 'anomaly', device: 'pump-c', at: appliedAt })),
    });
    await hub.registry.tick();
    expect(hub.registry.rollout(r.id)?.stage).toBe('rolled_back');
    await until(() => canary.model.card.version === '2.0.0', 'the canary back on 2.0.0');
    const state = await getRollout(r.id);
    expect(state.steps.map((s) => s.step).slice(-2)).toEqual(['alarm-rate', 'rolled-back']);
    expect(fleet.outcomes.some((o) => o.version === '4.0.0')).toBe(false);
    // The hub learns it from the canary's ack for 2.0.0, which may arrive after the swap.
    await until(
      () => hub.registry.deployed()[`${SITE}/pump-c`]?.version === '2.0.0',
      'the hub to record pump-c on 2.0.0',
    );
  });

  it('a canary that acks the model but keeps scoring under the old version is not promoted, and fails the rollout', async () => {
    // pump-l applies what it is sent (its ack is true), but its telemetry keeps naming 2.0.0: no evidence of 5.0.0.
    const liar = await startAgentSide(hub, 'pump-l', shipped, hub.registry.publicKeyPem, undefined, {
      claims: '2.0.0',
    });
    const entry = hub.registry.addFromCard(variant(shipped, dir, '5.0.0'));
    const stop = ticking();
    try {
      const r = await hub.registry.start({
        model: entry,
        canaries: [{ site: SITE, device: 'pump-l' }],
        rest: [{ site: SITE, device: 'pump-f' }],
        policy: { soakMs: 0, applyTimeoutMs: 3000 },
      });
      await until(() => hub.registry.rollout(r.id)?.devices[0]?.status === 'applied', 'the liar to ack 5.0.0');
      expect(liar.model.card.version).toBe('5.0.0');
      // Ticks run every 50 ms with a soak of 0: an ack alone would have promoted it by now.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(hub.registry.rollout(r.id)?.stage).toBe('canary');
      const failed = await until(() => {
        const state = hub.registry.rollout(r.id);
        return state?.stage !== 'canary' && state;
      }, 'the rollout to end');
      console.log(`lying canary: ${failed.stage}: ${failed.reason}`);
      expect(failed.stage).toBe('failed');
      expect(failed.reason).toBe(
        `canary ${SITE}/pump-l acknowledged pump-vibration-pca 5.0.0 but the hub received no score under it within ` +
          '3 s (its telemetry names another model or version, or none)',
      );
      expect(failed.steps.map((step) => step.step)).not.toContain('canaries-healthy');
      expect(fleet.outcomes.some((o) => o.version === '5.0.0')).toBe(false);
    } finally {
      stop();
      await liar.close();
    }
  });
});
