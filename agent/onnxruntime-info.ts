import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { OnnxRuntimeHealth } from '../protocol/messages.js';
import type { ModelRuntime } from '../models/runtime.js';
import { SessionRuntime } from './model-sync/session.js';
import { SwappableModel } from './model-sync/swappable.js';

/** onnxruntime-node's native binding as Node loaded it: `<package>/bin/napi-v6/<platform>/<arch>/onnxruntime_binding.node`. */
const BINDING = /^(.*)[/\\]bin[/\\]napi-v\d+[/\\]([^/\\]+)[/\\]([^/\\]+)[/\\]onnxruntime_binding\.node$/;

/** The native binding file this process loaded (a CommonJS module, so it sits in require's cache), if any. */
export function loadedBinding(
  cache: Record<string, unknown> = createRequire(import.meta.url).cache,
): { file: string; platform: string; version: string } | undefined {
  for (const file of Object.keys(cache)) {
    const m = BINDING.exec(file);
    if (!m) continue;
    let version = 'unknown';
    try {
      version = (JSON.parse(readFileSync(join(m[1]!, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      // A binding without its package.json still says which platform it is for.
    }
    return { file, platform: `${m[2]}-${m[3]}`, version };
  }
  return undefined;
}

/** Execution providers the model's current session was created with (OnnxModelRuntime alone: onnxruntime's CPU). */
export function sessionProviders(model: ModelRuntime): readonly string[] {
  const current = model instanceof SwappableModel ? model.current : model;
  return current instanceof SessionRuntime ? current.providers : ['cpu'];
}

/**
 * What health reports about ONNX scoring once a model is loaded: onnxruntime's version, the platform of the native
 * binding actually loaded (not a JavaScript fallback; an arm64 device shows linux-arm64) and the providers in use.
 */
export function onnxRuntimeHealth(model: ModelRuntime): { file: string; health: () => OnnxRuntimeHealth } | undefined {
  const binding = loadedBinding();
  if (!binding) return undefined;
  return {
    file: binding.file,
    health: () => ({ version: binding.version, binding: binding.platform, providers: [...sessionProviders(model)] }),
  };
}
