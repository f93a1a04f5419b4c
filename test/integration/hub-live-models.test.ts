import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdentityStore } from '../../hub/auth/identities.js';
import type { RunningHub } from '../../hub/hub.js';
import type { LiveMessage } from '../../hub/http/contract.js';
import { LiveMessageSchema } from '../../hub/http/schemas.js';
import { ModelRegistry } from '../../hub/registry/registry.js';
import { encode } from '../../protocol/codec.js';
import { createEnvelopeFactory } from '../../protocol/envelope.js';
import { apiCall, loginSession } from '../../testkit/processes.js';
import { waitFor } from '../../testkit/test-broker.js';
import { connectDevice, silent, startTestHub, tempDir } from './hub-helpers.js';

const PASSWORD = 'live-models-password-1';
const SITE = 'plant-m';
const DEVICE = 'pump-m1';

/**
 * The live stream tells open Models pages of training jobs and rollouts: a `models` line when a job is queued, runs
 * and ends, and when a rollout's time limit sends its canary back, so the page follows without a reload.
 */
describe('the live stream carries training jobs and rollouts (topic models)', () => {
  let hub: RunningHub;
  let device: MqttClient;
  let cleanup: () => Promise<void>;
  let who: { cookie: string; csrf: string };
  const messages: LiveMessage[] = [];
  const call = (path: string, body?: unknown) => apiCall(hub.httpUrl, who, path, body);
  const modelLines = () => messages.filter((m) => m.topic === 'models');

  beforeAll(async () => {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    const identities = await IdentityStore.open(tmp.dir);
    await identities.addUser('sam', 'supervisor', PASSWORD);
    const { secret } = await identities.addDevice(SITE, DEVICE);
    new ModelRegistry({ dir: join(tmp.dir, 'registry'), publish: async () => undefined, logger: silent }).addFromCard(
      fileURLToPath(new URL('../../models/default/pump-vibration-pca.card.json', import.meta.url)),
    );
    hub = await startTestHub(tmp.dir, { registry: { rolloutCheckSeconds: 1 } });
    who = await loginSession(hub.httpUrl, 'sam', PASSWORD);
    device = await connectDevice(hub.mqttPort, SITE, DEVICE, secret);
    const envelopes = createEnvelopeFactory({ site: SITE, device: DEVICE });
    const status = encode('status', { ...envelopes.next(), state: 'online', agentVersion: '1.0.0' });
    await device.publishAsync(status.topic, status.payload, { qos: 1 });
    const stream = await call('/api/stream');
    expect(stream.status).toBe(200);
    const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
    void (async () => {
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: '', done: true }));
        if (done) return;
        buffer += value;
        for (const line of buffer.split('\n\n').slice(0, -1))
          if (line.startsWith('data: ')) messages.push(LiveMessageSchema.parse(JSON.parse(line.slice(6))));
        buffer = buffer.slice(buffer.lastIndexOf('\n\n') + 2);
      }
    })();
  });

  afterAll(async () => {
    device?.end(true);
    await hub?.close();
    await cleanup?.();
  });

  it('says when a training job changes', async () => {
    const submitted = await call('/api/models/train', { device: `${SITE}/${DEVICE}` });
    expect(submitted.status).toBe(202);
    const { id } = (await submitted.json()) as { id: string };
    await waitFor(() => modelLines().length > 0, 'a models line after the job was queued');
    // It ends (here: too little telemetry to learn from) and that is told as well, after it ended.
    let finishedAt = 0;
    await waitFor(() => {
      void call(`/api/models/train/${id}`)
        .then((r) => r.json() as Promise<{ status: string; finishedAt?: number }>)
        .then((job) => (finishedAt = job.finishedAt ?? 0));
      return finishedAt > 0;
    }, 'the job to end');
    await waitFor(() => modelLines().some((m) => m.at >= finishedAt), 'a models line after the job ended', 5000);
  });

  it('says when a rollout fails on its time limit', async () => {
    const started = await call('/api/rollouts', {
      modelId: 'pump-vibration-pca',
      version: '1.0.0',
      canaries: [`${SITE}/${DEVICE}`],
      policy: { applyTimeoutMs: 1000 },
    });
    expect(started.status).toBe(201);
    const { id } = (await started.json()) as { id: string };
    let failedAt = 0;
    await waitFor(() => {
      void call(`/api/rollouts/${id}`)
        .then((r) => r.json() as Promise<{ stage: string; steps: Array<{ at: number; step: string }> }>)
        .then((r) => {
          if (r.stage === 'failed') failedAt = r.steps.find((s) => s.step === 'failed')?.at ?? 1;
        });
      return failedAt > 0;
    }, 'the rollout to fail on its time limit');
    await waitFor(() => modelLines().some((m) => m.at >= failedAt), 'a models line after the rollout failed', 5000);
  });
});
