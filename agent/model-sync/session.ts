import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
// Before onnxruntime-node: switches its telemetry off unless the operator chose (see the module).
import '../../models/onnxruntime-telemetry.js';
import * as ort from 'onnxruntime-node';
import type { Logger } from '../../config/logger.js';
import type { ModelArtifact } from '../../models/artifacts.js';
import type { ModelCard } from '../../models/card.js';
import { OnnxModelRuntime, type ModelRuntime, type ModelScore } from '../../models/runtime.js';

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
 * The model runtime (models/runtime.ts) on the execution providers this device can use. Model sync needs this much
 * more than OnnxModelRuntime: choose the providers, and fall back to CPU when a GPU session cannot be created.
 */
export class SessionRuntime implements ModelRuntime {
  private constructor(
    private readonly inner: OnnxModelRuntime,
    readonly providers: readonly Provider[],
  ) {}

  get card(): ModelCard {
    return this.inner.card;
  }

  static async create(
    artifact: ModelArtifact,
    requested: readonly Provider[],
    logger: Logger,
  ): Promise<SessionRuntime> {
    const { providers, dropped } = chooseProviders(requested);
    for (const d of dropped)
      logger.warn({ provider: d.provider, why: d.why }, 'execution provider unavailable; falling back');
    try {
      return new SessionRuntime(
        await OnnxModelRuntime.fromArtifact(artifact, { executionProviders: providers }),
        providers,
      );
    } catch (error) {
      if (providers.length === 1) throw error;
      logger.warn({ providers, err: (error as Error).message }, 'GPU session failed; falling back to cpu');
      return new SessionRuntime(await OnnxModelRuntime.fromArtifact(artifact, { executionProviders: ['cpu'] }), [
        'cpu',
      ]);
    }
  }

  score(batch: ReadonlyArray<ReadonlyArray<number>>): Promise<ModelScore[]> {
    return this.inner.score(batch);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
