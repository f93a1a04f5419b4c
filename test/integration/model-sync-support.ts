import { cpSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { ModelSyncConfigSchema } from '../../agent/model-sync/config.js';
import type { ModelSync, SyncOutcome } from '../../agent/model-sync/model-sync.js';
import { mqttSubscriber } from '../../agent/model-sync/mqtt-subscribe.js';
import type { SwappableModel } from '../../agent/model-sync/swappable.js';
import { createModelSync } from '../../agent/model-sync/wire.js';
import type { ModelRegistry } from '../../hub/registry/registry.js';
import { createHubRegistry, type AlarmSource } from '../../hub/registry/wire.js';
import { readModel, writeModel } from '../../models/artifacts.js';
import { sealCard, sha256 } from '../../models/card.js';
import { decode, encode } from '../../protocol/codec.js';
import { createEnvelopeFactory } from '../../protocol/envelope.js';
import type { ModelAckMessage, TelemetryMessage } from '../../protocol/messages.js';
import { deviceClientId } from '../../protocol/topics.js';

export const logger = pino({ level: 'silent' });
export const SITE = 'plant-m';

/** Copies the shipped PCA model into `dir` (tests corrupt copies, never the shipped files) and returns its card path. */
export function shippedCopy(dir: string): string {
  const src = fileURLToPath(new URL('../../models/default/', import.meta.url));
  cpSync(join(src, 'pump-vibration-pca.card.json'), join(dir, 'pump-vibration-pca.card.json'));
  cpSync(join(src, 'pump-vibration-pca.onnx'), join(dir, 'pump-vibration-pca.onnx'));
  return join(dir, 'pump-vibration-pca.card.json');
}

/** A new version of the shipped model (same graph, new version), or with a replacement graph; returns its card path. */
export function variant(base: string, dir: string, version: string, onnx?: Uint8Array): string {
  const { card, onnx: original } = readModel(base);
  const graph = onnx ?? original;
  const { contentHash: _h, ...rest } = card;
  const sealed = sealCard({ ...rest, version, onnx: { ...card.onnx, sha256: sha256(graph), bytes: graph.length } });
  return writeModel(join(dir, `v${version}`), { card: sealed, onnx: graph }).cardPath;
}

export interface HubSide {
  registry: ModelRegistry;
  mqttPort: number;
  httpBase: string;
  acks: ModelAckMessage[];
  /** Paths of every artifact request the HTTP server answered. */
  downloads: string[];
  /** Publishes as the hub (e.g. a forged manifest). */
  publish(topic: string, payload: Buffer): Promise<void>;
  close(): Promise<void>;
}

/** A real aedes broker and a real HTTP server on port 0, with the registry wired as the hub will wire it. */
export async function startHubSide(
  dir: string,
  opts: { inspections?: Array<AlarmSource & { site: string; device: string }> } = {},
): Promise<HubSide> {
  const broker = await Aedes.createBroker();
  const tcp = createTcpServer(broker.handle);
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  const mqttPort = (tcp.address() as AddressInfo).port;
  const publish = (
    topic: string,
    payload: Buffer,
    o: { qos: 0 | 1; retain: boolean } = { qos: 1, retain: true },
  ): Promise<void> =>
    new Promise((resolve, reject) =>
      broker.publish({ cmd: 'publish', topic, payload, qos: o.qos, retain: o.retain, dup: false }, (e) =>
        e ? reject(e) : resolve(),
      ),
    );
  // No baseUrl: manifests carry a path and agents resolve it against their configured hub URL. The tick timer is
  // slow on purpose: tests call registry.tick() themselves.
  const wired = createHubRegistry({
    dataDir: dir,
    publish,
    inspections: (site, device) => (opts.inspections ?? []).filter((i) => i.site === site && i.device === device),
    logger,
    tickMs: 3_600_000,
    // These tests hand agents broken graphs, which the registry's operator check would refuse before any agent saw them.
    allowedOperators: 'any',
  });
  const { registry } = wired;
  const downloads: string[] = [];
  const http = createServer((req, res) => {
    if (req.url?.startsWith('/models/')) downloads.push(req.url);
    if (wired.artifacts(req, res)) return;
    // The hub's router checks session, role and CSRF first; this test server has no users, so it skips that.
    const url = new URL(req.url ?? '/', 'http://t');
    const route = wired.apiRoutes.find((r) => r.method === req.method && r.path.test(url.pathname));
    if (!route) return void res.writeHead(404).end();
    route.handle({ params: route.path.exec(url.pathname)!.slice(1), body: undefined }).then(
      (out) => res.writeHead(out.status ?? 200, { 'content-type': 'application/json' }).end(JSON.stringify(out.body)),
      (error: Error) => res.writeHead(400).end(JSON.stringify({ message: error.message })),
    );
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const httpBase = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const acks: ModelAckMessage[] = [];
  // Scores, as the hub's ingest hands them over: a rollout's canaries are promoted on these.
  await new Promise<void>((r) =>
    broker.subscribe(
      'pdm/v1/+/+/telemetry',
      (packet, cb) => {
        const d = decode(packet.topic, packet.payload as Buffer);
        if (d.ok && d.value.channel === 'telemetry') wired.handleTelemetry(d.value.message as TelemetryMessage);
        cb();
      },
      r,
    ),
  );
  // What hub ingest will do for `model/ack`: validate, then hand it to the registry.
  await new Promise<void>((r) =>
    broker.subscribe(
      'pdm/v1/+/+/model/ack',
      (packet, cb) => {
        const d = decode(packet.topic, packet.payload as Buffer);
        if (d.ok && d.value.channel === 'model/ack') {
          acks.push(d.value.message as ModelAckMessage);
          void wired.handleAck(d.value.message as ModelAckMessage);
        }
        cb();
      },
      r,
    ),
  );
  return {
    registry,
    mqttPort,
    httpBase,
    acks,
    downloads,
    publish: (topic, payload) => publish(topic, payload),
    async close() {
      await wired.close();
      http.closeAllConnections();
      await new Promise<void>((r) => http.close(() => r()));
      await new Promise<void>((r) => broker.close(() => r()));
      await new Promise<void>((r) => tcp.close(() => r()));
    },
  };
}

export interface AgentSide {
  sync: ModelSync;
  model: SwappableModel;
  client: MqttClient;
  outcomes: SyncOutcome[];
  close(): Promise<void>;
}

/**
 * The agent's model-sync part on a real MQTT connection and real onnxruntime sessions, booted from `shippedCard`. Like
 * an agent it reports a score every 100 ms naming the model it runs, unless `claims` makes it name another version.
 */
export async function startAgentSide(
  hub: HubSide,
  device: string,
  shippedCard: string,
  publicKeyPem: string,
  dir = mkdtempSync(join(tmpdir(), 'pdm-agent-')),
  opts: { claims?: string } = {},
): Promise<AgentSide> {
  const config = ModelSyncConfigSchema.parse({
    publicKeyPem,
    httpBase: hub.httpBase,
    dir,
    download: { attempts: 2, retryMinMs: 10, retryMaxMs: 20 },
    shadow: { probationWindows: 0 },
  });
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${hub.mqttPort}`, {
    clientId: deviceClientId(SITE, device),
    protocolVersion: 4,
    reconnectPeriod: 100,
  });
  const outcomes: SyncOutcome[] = [];
  const { sync, model } = await createModelSync({
    config,
    site: SITE,
    device,
    shippedCard,
    subscribe: mqttSubscriber(client),
    publish: async (topic, payload, o) => void (await client.publishAsync(topic, payload, o)),
    envelopes: createEnvelopeFactory({ site: SITE, device }),
    logger,
    onOutcome: (o) => outcomes.push(o),
  });
  const envelopes = createEnvelopeFactory({ site: SITE, device });
  const reporter = setInterval(() => {
    const { id, version } = model.card;
    const envelope = envelopes.next();
    const { topic, payload } = encode('telemetry', {
      ...envelope,
      windowStart: envelope.ts - 1000,
      windowEnd: envelope.ts,
      features: {},
      score: 0,
      threshold: model.card.threshold.value,
      model: { id, version: opts.claims ?? version },
    });
    client.publishAsync(topic, payload, { qos: 0 }).catch(() => undefined);
  }, 100);
  return {
    sync,
    model,
    client,
    outcomes,
    async close() {
      clearInterval(reporter);
      await sync.close();
      await client.endAsync();
      await model.close();
    },
  };
}

/** Polls (no fixed sleeps) until `check` passes or 15 s passed. */
export async function until<T>(check: () => T | undefined | false, what: string): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
