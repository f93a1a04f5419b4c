import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loadedBinding, onnxRuntimeHealth, sessionProviders } from '../../agent/onnxruntime-info.js';
import { SessionRuntime } from '../../agent/model-sync/session.js';
import { SwappableModel } from '../../agent/model-sync/swappable.js';
import { readModel } from '../../models/artifacts.js';
import { OnnxModelRuntime } from '../../models/runtime.js';

const CARD = fileURLToPath(new URL('../../models/default/pump-vibration-pca.card.json', import.meta.url));

describe("what the agent's health says about ONNX scoring", () => {
  it('names the platform of the native binding in the module cache, and nothing when none is loaded', () => {
    const file = '/opt/pdm-agent/node_modules/onnxruntime-node/bin/napi-v6/linux/arm64/onnxruntime_binding.node';
    expect(loadedBinding({ '/x/index.js': {}, [file]: {} })).toEqual({
      file,
      platform: 'linux-arm64',
      version: 'unknown',
    });
    expect(loadedBinding({ '/x/index.js': {} })).toBeUndefined();
  });

  it('reports the binding this process loaded, its version, and the providers of the session in use', async () => {
    const fixed = await OnnxModelRuntime.load(CARD);
    const sync = new SwappableModel(await SessionRuntime.create(readModel(CARD), ['cpu'], pino({ level: 'silent' })));
    try {
      const runtime = onnxRuntimeHealth(fixed)!;
      expect(runtime.file).toContain(`onnxruntime-node/bin/napi-v6/linux/${process.arch}/onnxruntime_binding.node`);
      expect(runtime.health()).toEqual({ version: '1.30.0', binding: `linux-${process.arch}`, providers: ['cpu'] });
      expect(sessionProviders(sync)).toEqual(['cpu']);
    } finally {
      await fixed.close();
      await sync.close();
    }
  });
});
