import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { fitPca, scorePca } from '../../models/detectors/pca.js';
import { exportPcaOnnx, pcaGraph } from '../../models/onnx/export-pca.js';
import { SUPPORTED_OPERATORS, encodeOnnxModel } from '../../models/onnx/onnx-model.js';
import { autoencoderGraph } from '../../models/onnx/export-autoencoder.js';
import { DEFAULT_AE_OPTIONS, type AutoencoderModel } from '../../models/detectors/autoencoder.js';
import { ProtoWriter } from '../../models/onnx/protobuf.js';
import { isPdmError } from '../../protocol/errors.js';

/** Deterministic correlated data: 4 sensors driven by 2 latent signals plus small noise. */
function data(n: number, seed = 7): number[][] {
  let s = seed;
  const rand = (): number => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5;
  return Array.from({ length: n }, (_, i) => {
    const a = Math.sin(i / 9) + rand() * 0.2;
    const b = Math.cos(i / 23) + rand() * 0.2;
    return [a, 2 * a + b + rand() * 0.05, b * 3 + 10, a - b + rand() * 0.1].map(Math.fround);
  });
}

describe('protobuf writer', () => {
  it('writes varints, negative int64 and packed floats as the wire format specifies', () => {
    expect(Array.from(new ProtoWriter().int(1, 300).finish())).toEqual([0x08, 0xac, 0x02]);
    expect(new ProtoWriter().int(1, -1).finish().length).toBe(11); // tag + 10-byte two's complement
    expect(Array.from(new ProtoWriter().packedFloats(4, [1]).finish())).toEqual([0x22, 4, 0, 0, 0x80, 0x3f]);
    expect(Array.from(new ProtoWriter().string(2, 'ab').finish())).toEqual([0x12, 2, 0x61, 0x62]);
  });
});

describe('PCA ONNX export', () => {
  const train = data(300);
  const model = fitPca(train);

  it('matches the JS reference within 1e-5 (relative to max(1, |value|)) through onnxruntime-node', async () => {
    const test = data(200, 99).map((row, i) => (i % 10 === 0 ? row.map((x) => Math.fround(x * 1.5)) : row));
    const session = await ort.InferenceSession.create(exportPcaOnnx(model));
    const out = await session.run({
      features: new ort.Tensor('float32', Float32Array.from(test.flat()), [test.length, 4]),
    });
    let worst = 0;
    test.forEach((row, i) => {
      const ref = scorePca(model, row);
      const pairs: Array<[number, number]> = [
        [ref.score, (out.score!.data as Float32Array)[i]!],
        [ref.t2, (out.t2!.data as Float32Array)[i]!],
        [ref.q, (out.q!.data as Float32Array)[i]!],
        ...ref.contributions.map((c, j): [number, number] => [
          c,
          (out.contributions!.data as Float32Array)[i * 4 + j]!,
        ]),
      ];
      for (const [a, b] of pairs) worst = Math.max(worst, Math.abs(a - b) / Math.max(1, Math.abs(a)));
    });
    await session.release();
    expect(worst).toBeLessThan(1e-5);
    // The anomalous rows must actually score differently, or the comparison above proves little.
    expect(Math.max(...test.map((r) => scorePca(model, r).score))).toBeGreaterThan(1);
  });

  it('lists exactly the operators the two exporters emit', () => {
    const ae: AutoencoderModel = {
      kind: 'dense-ae',
      mean: [0, 0],
      scale: [1, 1],
      window: 2,
      layers: [
        { weights: new Array(8).fill(0.1), bias: [0, 0], inputs: 4, outputs: 2, activation: 'relu' },
        { weights: new Array(8).fill(0.1), bias: [0, 0, 0, 0], inputs: 2, outputs: 4, activation: 'linear' },
      ],
      limit: 1,
      options: DEFAULT_AE_OPTIONS,
      finalLoss: 0,
    };
    const used = new Set([...pcaGraph(model).nodes, ...autoencoderGraph(ae).nodes].map((n) => n.op));
    expect([...used].sort()).toEqual([...SUPPORTED_OPERATORS]);
  });

  it('refuses graphs that use a value before it exists, unknown operators and non-finite weights', () => {
    const g = pcaGraph(model);
    const broken = { ...g, nodes: g.nodes.slice(1) };
    expect(() => encodeOnnxModel(broken)).toThrow(/uses "centred" before it is produced/);
    const unknown = { ...g, nodes: [{ op: 'Conv' as never, inputs: ['features'], outputs: ['x'] }, ...g.nodes] };
    expect(() => encodeOnnxModel(unknown)).toThrow(/operator Conv is not supported/);
    const nan = {
      ...g,
      initializers: g.initializers.map((t) => (t.name === 'mean' ? { ...t, values: [NaN, 0, 0, 0] } : t)),
    };
    try {
      encodeOnnxModel(nan);
      expect.unreachable();
    } catch (error) {
      expect(isPdmError(error, 'PDM_ERR_ONNX_EXPORT')).toBe(true);
    }
  });

  it('is deterministic: the same fit exports the same bytes', () => {
    expect(Buffer.from(exportPcaOnnx(fitPca(train))).equals(Buffer.from(exportPcaOnnx(model)))).toBe(true);
  });
});
