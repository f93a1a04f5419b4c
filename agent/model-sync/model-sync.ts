import type { Logger } from '../../config/logger.js';
import { decode, encode } from '../../protocol/codec.js';
import type { EnvelopeFactory } from '../../protocol/envelope.js';
import { PdmError } from '../../protocol/errors.js';
import type { ModelManifestMessage } from '../../protocol/messages.js';
import { topicFor } from '../../protocol/topics.js';
import type { ModelArtifact } from '../../models/artifacts.js';
import { decodeBundle, manifestFields, scopeCovers, verifyManifest, type ManifestFields } from '../../models/bundle.js';
import { sha256 } from '../../models/card.js';
import type { ModelRuntime } from '../../models/runtime.js';
import type { ModelSyncConfig } from './config.js';
import { download, type FetchLike } from './download.js';
import { LastKnownGood } from './lkg-store.js';
import { SessionRuntime } from './session.js';
import { shadowProblem } from './shadow.js';
import type { SwappableModel } from './swappable.js';

export type AckResult = 'applied' | 'rejected' | 'rolled_back';
export interface SyncOutcome {
  modelId: string;
  version: string;
  result: AckResult;
  reason?: string;
}

export interface ModelSyncDeps {
  site: string;
  device: string;
  config: ModelSyncConfig;
  model: SwappableModel;
  /** Subscribes at QoS 1 to one topic; the broker delivers the retained manifest at once. */
  subscribe: (topic: string, onMessage: (payload: Buffer) => void) => Promise<void>;
  /** Sends the ack (QoS 1); with the outbox wired in, it survives a restart. */
  publish: (topic: string, payload: Buffer, opts: { qos: 1 }) => Promise<void>;
  envelopes: EnvelopeFactory;
  logger: Logger;
  fetch?: FetchLike;
  sleep?: (ms: number) => Promise<void>;
  createRuntime?: (artifact: ModelArtifact) => Promise<ModelRuntime>;
  /** Told about every outcome (tests, health reporting). */
  onOutcome?: (outcome: SyncOutcome) => void;
  /** The clock manifests' expiry is checked against. */
  now?: () => number;
}

const INHERENT = new Set([
  'PDM_ERR_MODEL_SIGNATURE',
  'PDM_ERR_MODEL_INVALID',
  'PDM_ERR_MODEL_SHADOW',
  'PDM_ERR_MODEL_FORMAT',
  'PDM_ERR_MODEL_SCOPE',
  'PDM_ERR_MODEL_EXPIRED',
  'PDM_ERR_MODEL_REPLAY',
  'PDM_ERR_MODEL_DOWNGRADE',
  'PDM_ERR_MODEL_TOO_LARGE',
]);
/** Refusals that the model's bytes earn, whichever manifest names them. */
const BAD_CONTENT = new Set(['PDM_ERR_MODEL_INVALID', 'PDM_ERR_MODEL_SHADOW']);
/** Refusals remembered so a re-delivered manifest is not fetched again; oldest forgotten beyond this many. */
const MAX_REFUSED = 256;

/** Failure of one step, already carrying the code and words for the ack's reason. */
const fail = (code: ConstructorParameters<typeof PdmError>[0], detail: string): never => {
  throw new PdmError(code, detail);
};

/**
 * Applies the models the hub publishes for this device: verify signature, download, check size and SHA-256,
 * decode the bundle, load a new session, shadow-score recent windows, then swap and keep the bundle as the last
 * known good. Anything failing is acked `rejected` with the reason and the running model keeps scoring; a model
 * that goes bad in its first windows is replaced by the previous one and acked `rolled_back`.
 */
export class ModelSync {
  readonly lkg: LastKnownGood;
  private chain: Promise<void> = Promise.resolve();
  private pending: Buffer | undefined;
  private busy = false;
  private standby: ModelRuntime | undefined;
  /** Manifests refused for what they are, not for how the bytes travelled: a reconnect re-delivers the retained
   * manifest, and downloading it again would only fail again. A wrong hash or size may be a broken transfer, so
   * those are tried again. */
  private readonly refused = new Map<string, string>();

  constructor(private readonly deps: ModelSyncDeps) {
    this.lkg = new LastKnownGood(deps.config.dir);
  }

  /** The model to boot with: the last known good one when it verifies, else the shipped one. */
  static async boot(
    config: ModelSyncConfig,
    shipped: () => Promise<ModelRuntime>,
    logger: Logger,
    createRuntime?: (a: ModelArtifact) => Promise<ModelRuntime>,
  ): Promise<ModelRuntime> {
    const create = createRuntime ?? ((a: ModelArtifact) => SessionRuntime.create(a, config.providers, logger));
    try {
      const artifact = new LastKnownGood(config.dir).load();
      if (artifact) {
        const runtime = await create(artifact);
        logger.info(
          { modelId: artifact.card.id, version: artifact.card.version },
          'booting from the last known good model',
        );
        return runtime;
      }
    } catch (error) {
      logger.warn({ err: (error as Error).message }, 'last known good model unusable; booting the shipped model');
    }
    return shipped();
  }

  get topic(): string {
    return topicFor(this.deps.site, this.deps.device, 'model');
  }

  async start(): Promise<void> {
    await this.deps.subscribe(this.topic, (payload) => this.receive(payload));
  }

  /** Manifests are handled one at a time; of several arriving meanwhile only the newest is worth handling. */
  receive(payload: Buffer): Promise<void> {
    this.pending = payload;
    if (!this.busy) {
      this.busy = true;
      this.chain = this.drain();
    }
    return this.chain;
  }

  /** Resolves when every manifest received so far has been handled. */
  idle(): Promise<void> {
    return this.chain;
  }

  private async drain(): Promise<void> {
    while (this.pending) {
      const payload = this.pending;
      this.pending = undefined;
      try {
        await this.handle(payload);
      } catch (error) {
        this.deps.logger.error({ err: (error as Error).message }, 'model sync failed unexpectedly');
      }
    }
    this.busy = false;
  }

  private async handle(payload: Buffer): Promise<void> {
    if (payload.length === 0) return; // the hub cleared the retained manifest: keep what runs
    const decoded = decode(this.topic, payload);
    if (!decoded.ok || decoded.value.channel !== 'model') {
      this.deps.logger.warn(
        { err: decoded.ok ? 'not a manifest' : decoded.error.message },
        'ignoring invalid model manifest',
      );
      return;
    }
    const manifest = decoded.value.message as ModelManifestMessage;
    const running = this.deps.model.card;
    if (running.id === manifest.modelId && running.version === manifest.version) {
      return this.ack(manifest, 'applied', 'already running');
    }
    const known = this.refused.get(`bytes:${manifest.sha256}`) ?? this.refused.get(`sig:${manifest.signature}`);
    if (known) return this.ack(manifest, 'rejected', known);
    let candidate: ModelRuntime | undefined;
    try {
      const { bundle, artifact } = await this.fetchVerified(manifest);
      const create =
        this.deps.createRuntime ??
        ((a: ModelArtifact) => SessionRuntime.create(a, this.deps.config.providers, this.deps.logger));
      candidate = await create(artifact);
      const problem = await shadowProblem(candidate, running, this.deps.model.recent(), this.deps.config.shadow);
      if (problem) fail('PDM_ERR_MODEL_SHADOW', problem);
      this.lkg.promote(bundle, { release: manifest.release ?? 0, sequence: manifest.sequence ?? 0 });
      await this.swapIn(candidate, manifest);
      candidate = undefined;
    } catch (error) {
      await candidate?.close().catch(() => undefined);
      const reason =
        error instanceof PdmError
          ? `${error.code}: ${error.detail ?? error.message}`
          : `unexpected: ${(error as Error).message}`;
      if (error instanceof PdmError && INHERENT.has(error.code))
        this.remember(manifest, reason, BAD_CONTENT.has(error.code));
      this.deps.logger.warn(
        { modelId: manifest.modelId, version: manifest.version, reason },
        'model rejected; the running model keeps scoring',
      );
      return this.ack(manifest, 'rejected', reason);
    }
    return this.ack(manifest, 'applied');
  }

  /** A bad model is remembered by its bytes (the hub re-signs manifests), a bad manifest by its signature. */
  private remember(m: ModelManifestMessage, reason: string, badContent: boolean): void {
    if (this.refused.size >= MAX_REFUSED) this.refused.delete(this.refused.keys().next().value!);
    this.refused.set(badContent ? `bytes:${m.sha256}` : `sig:${m.signature}`, reason);
  }

  /**
   * Everything the signed manifest alone decides, before a byte is downloaded: its format, the hub's signature, that
   * it names this device, that it has not expired, that it is newer than every manifest applied so far, and that it
   * does not send an older release than the running one unless the hub signed it as a rollback.
   */
  private checkManifest(m: ModelManifestMessage): ManifestFields {
    const fields = manifestFields(m);
    if (!fields)
      throw new PdmError(
        'PDM_ERR_MODEL_FORMAT',
        `manifest for ${m.modelId} ${m.version} is in the old format (its signature covers no device scope, ` +
          `sequence or expiry, so it could be replayed); upgrade the hub`,
      );
    if (!verifyManifest(fields, m.signature, this.deps.config.publicKeyPem))
      fail('PDM_ERR_MODEL_SIGNATURE', `manifest for ${m.modelId} ${m.version} is not signed by the configured hub key`);
    const { site, device } = this.deps;
    if (!scopeCovers(fields.scope, site, device))
      fail(
        'PDM_ERR_MODEL_SCOPE',
        `manifest for ${m.modelId} ${m.version} is for ${fields.scope}, not ${site}/${device}`,
      );
    const now = (this.deps.now ?? Date.now)();
    if (now > fields.expiresAt)
      fail(
        'PDM_ERR_MODEL_EXPIRED',
        `manifest for ${m.modelId} ${m.version} expired at ${new Date(fields.expiresAt).toISOString()} ` +
          `(device clock ${new Date(now).toISOString()})`,
      );
    const applied = this.lkg.order();
    if (fields.sequence <= applied.sequence)
      fail(
        'PDM_ERR_MODEL_REPLAY',
        `manifest for ${m.modelId} ${m.version} has sequence ${fields.sequence}, not above ${applied.sequence} ` +
          `already applied`,
      );
    const running = this.runningRelease();
    if (fields.release < running && !fields.rollback)
      fail(
        'PDM_ERR_MODEL_DOWNGRADE',
        `${m.modelId} ${m.version} is release ${fields.release}, older than the running release ${running}, ` +
          `and the manifest is not a signed rollback`,
      );
    return fields;
  }

  /** The registry release of the model scoring now: the last known good one's, or 0 for the shipped model. */
  private runningRelease(): number {
    const lkg = this.lkg.load();
    const running = this.deps.model.card;
    return lkg && lkg.card.id === running.id && lkg.card.version === running.version
      ? this.lkg.order().currentRelease
      : 0;
  }

  private async fetchVerified(m: ModelManifestMessage): Promise<{ bundle: Buffer; artifact: ModelArtifact }> {
    this.checkManifest(m);
    const limit = this.deps.config.download.maxBytes;
    if (m.size > limit)
      fail(
        'PDM_ERR_MODEL_TOO_LARGE',
        `${m.modelId} ${m.version} is ${m.size} bytes, over modelSync.download.maxBytes ${limit}`,
      );
    const url = new URL(m.url, this.deps.config.httpBase ?? 'http://hub.invalid').toString();
    const { attempts, retryMinMs, retryMaxMs, timeoutMs } = this.deps.config.download;
    // The signed size is the limit: reading stops at the first byte past it.
    const bundle = await download(url, {
      attempts,
      retryMinMs,
      retryMaxMs,
      timeoutMs,
      maxBytes: m.size,
      ...(this.deps.fetch ? { fetch: this.deps.fetch } : {}),
      ...(this.deps.sleep ? { sleep: this.deps.sleep } : {}),
      onRetry: (attempt, error) =>
        this.deps.logger.warn({ attempt, err: error.message }, 'model download failed; retrying'),
    });
    if (bundle.length !== m.size)
      fail(
        'PDM_ERR_MODEL_HASH',
        `artifact is ${bundle.length} bytes, manifest says ${m.size}${bundle.length < m.size ? ' (truncated)' : ''}`,
      );
    const digest = sha256(bundle);
    if (digest !== m.sha256)
      fail(
        'PDM_ERR_MODEL_HASH',
        `artifact sha256 ${digest.slice(0, 12)}… differs from the manifest's ${m.sha256.slice(0, 12)}…`,
      );
    const artifact = decodeBundle(bundle, url);
    if (artifact.card.id !== m.modelId || artifact.card.version !== m.version) {
      fail(
        'PDM_ERR_MODEL_INVALID',
        `bundle holds ${artifact.card.id} ${artifact.card.version}, manifest names ${m.modelId} ${m.version}`,
      );
    }
    return { bundle, artifact };
  }

  private async swapIn(candidate: ModelRuntime, manifest: ModelManifestMessage): Promise<void> {
    const windows = this.deps.config.shadow.probationWindows;
    await this.standby?.close(); // a standby from an earlier, unfinished probation is superseded
    this.standby = undefined;
    const previous = await this.deps.model.swap(candidate, {
      windows,
      onPassed: () => this.retireStandby(),
      onBadScore: (score) => void this.rollBack(candidate, manifest, score),
    });
    this.deps.logger.info(
      { modelId: manifest.modelId, version: manifest.version, from: previous.card.version },
      'model applied',
    );
    if (windows === 0) await previous.close();
    else this.standby = previous;
  }

  private retireStandby(): void {
    const standby = this.standby;
    this.standby = undefined;
    void standby?.close();
  }

  private async rollBack(bad: ModelRuntime, manifest: ModelManifestMessage, score: number): Promise<void> {
    const standby = this.standby;
    if (!standby) return;
    this.standby = undefined;
    await this.deps.model.swap(standby);
    await bad.close().catch(() => undefined);
    this.lkg.demote();
    const reason = `PDM_ERR_MODEL_SHADOW: scored ${score} in its first windows; back to ${standby.card.id} ${standby.card.version}`;
    // Until the hub replaces the retained manifest, a reconnect re-delivers it: do not apply it again.
    this.remember(manifest, reason, true);
    this.deps.logger.warn({ modelId: manifest.modelId, version: manifest.version, reason }, 'model rolled back');
    await this.ack(manifest, 'rolled_back', reason);
  }

  private async ack(m: ModelManifestMessage, result: AckResult, reason?: string): Promise<void> {
    const short = reason && reason.length > 256 ? `${reason.slice(0, 255)}…` : reason;
    const msg = encode('model/ack', {
      ...this.deps.envelopes.next(),
      version: m.version,
      result,
      ...(short ? { reason: short } : {}),
    });
    this.deps.onOutcome?.({ modelId: m.modelId, version: m.version, result, ...(short ? { reason: short } : {}) });
    try {
      await this.deps.publish(msg.topic, msg.payload, { qos: 1 });
    } catch (error) {
      this.deps.logger.warn({ err: (error as Error).message, result }, 'model ack not sent');
    }
  }

  async close(): Promise<void> {
    await this.chain;
    await this.standby?.close();
    this.standby = undefined;
  }
}
