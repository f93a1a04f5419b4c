import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Logger } from '../../config/logger.js';
import { PdmError } from '../../protocol/errors.js';
import type { ModelArtifact } from '../../models/artifacts.js';
import type { ModelCard } from '../../models/card.js';
import { validateBatch, type ModelRuntime, type ModelScore } from '../../models/runtime.js';

export type Provider = 'cpu' | 'cuda' | 'tensorrt';

/** The shared library onnxruntime needs beside its binding for a GPU provider (absent on a CPU-only install). */
const PROVIDER_LIBRARY: Record<Exclude<Provider, 'cpu'>, string> = {
  cuda: 'libonnxruntime_providers_cuda.so',
  tensorrt: 'libonnxruntime_providers_tensorrt.so',
};

function bindingDir(): string | undefined {
  try {
    const pkg = createRequire(import.meta.url).resolve('onnxruntime-node/package.json');
    return join(dirname(pkg), 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    return undefined;
  }
}

/**
 * Keeps the requested providers that this onnxruntime build lists and whose library is installed; always ends with
 * cpu. Every dropped provider is reported so the caller can warn: a Jetson silently scoring on CPU is a surprise.
 */
export function chooseProviders(
  requested: readonly Provider[],
  probe: { listed: readonly string[]; libraryPresent: (p: Exclude<Provider, 'cpu'>) => boolean } = defaultProbe(),
): { providers: Provider[]; dropped: Array<{ provider: Provider; why: string }> } {
  const providers: Provider[] = [];
  const dropped: Array<{ provider: Provider; why: string }> = [];
  for (const p of requested) {
    if (p === 'cpu' || providers.includes(p)) continue;
    if (!probe.listed.includes(p)) dropped.push({ provider: p, why: `this onnxruntime-node build does not list ${p}` });
    else if (!probe.libraryPresent(p)) dropped.push({ provider: p, why: `${PROVIDER_LIBRARY[p]} is not installed` });
    else providers.push(p);
  }
  providers.push('cpu');
  return { providers, dropped };
}

function defaultProbe(): { listed: string[]; libraryPresent: (p: Exclude<Provider, 'cpu'>) => boolean } {
  const dir = bindingDir();
  return {
    listed: ort.listSupportedBackends().map((b) => b.name),
    libraryPresent: (p) => dir !== undefined && existsSync(join(dir, PROVIDER_LIBRARY[p])),
  };
}

/**
 * A ModelRuntime on an onnxruntime session with chosen execution providers. The scoring contract is the same as
 * models/runtime.ts OnnxModelRuntime (which always runs on CPU); this one exists because model sync must pick the
 * providers and fall back to CPU when a GPU session cannot be created.
 */
export class SessionRuntime implements ModelRuntime {
  private constructor(
    readonly card: ModelCard,
    private readonly session: ort.InferenceSession,
    readonly providers: readonly Provider[],
  ) {}

  static async create({ card, onnx }: ModelArtifact, requested: readonly Provider[], logger: Logger): Promise<SessionRuntime> {
    const { providers, dropped } = chooseProviders(requested);
    for (const d of dropped) logger.warn({ provider: d.provider, why: d.why }, 'execution provider unavailable; falling back');
    let session: ort.InferenceSession;
    let used: Provider[] = providers;
    const options = (eps: Provider[]): ort.InferenceSession.SessionOptions => ({ executionProviders: eps, intraOpNumThreads: 1, interOpNumThreads: 1 });
    try {
      session = await ort.InferenceSession.create(onnx, options(providers));
    } catch (error) {
      if (providers.length === 1) throw invalid(card, error);
      logger.warn({ providers, err: (error as Error).message }, 'GPU session failed; falling back to cpu');
      used = ['cpu'];
      try {
        session = await ort.InferenceSession.create(onnx, options(used));
      } catch (again) {
        throw invalid(card, again);
      }
    }
    const missing = [card.onnx.outputs.score, card.onnx.outputs.contributions].filter((n) => !session.outputNames.includes(n));
    if (!session.inputNames.includes(card.onnx.input) || missing.length > 0) {
      await session.release();
      throw new PdmError('PDM_ERR_MODEL_INVALID', `${card.id}: graph has inputs [${session.inputNames}] and outputs [${session.outputNames}], card expects ${card.onnx.input} → ${card.onnx.outputs.score}, ${card.onnx.outputs.contributions}`);
    }
    return new SessionRuntime(card, session, used);
  }

  async score(batch: ReadonlyArray<ReadonlyArray<number>>): Promise<ModelScore[]> {
    validateBatch(this.card, batch);
    if (batch.length === 0) return [];
    const f = this.card.features.names.length;
    const width = f * this.card.features.pipeline.window;
    const data = new Float32Array(batch.length * width);
    batch.forEach((row, i) => data.set(row, i * width));
    const out = await this.session.run({ [this.card.onnx.input]: new ort.Tensor('float32', data, [batch.length, width]) });
    const scores = out[this.card.onnx.outputs.score]!.data as Float32Array;
    const contributions = out[this.card.onnx.outputs.contributions]!.data as Float32Array;
    const threshold = this.card.threshold.value;
    return batch.map((_, i) => ({ score: scores[i]!, threshold, contributions: Array.from(contributions.subarray(i * f, (i + 1) * f)) }));
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

function invalid(card: ModelCard, error: unknown): PdmError {
  return new PdmError('PDM_ERR_MODEL_INVALID', `${card.id} ${card.version}: onnxruntime rejected the graph (${(error as Error).message})`, { cause: error });
}
