import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_AE_OPTIONS,
  scoreAutoencoder,
  slidingWindows,
  trainAutoencoder,
  type AutoencoderModel,
} from '../../models/detectors/autoencoder.js';
import { autoencoderGraph, exportAutoencoderOnnx } from '../../models/onnx/export-autoencoder.js';
import { SUPPORTED_OPERATORS } from '../../models/onnx/onnx-model.js';
import { loadTf } from '../../models/tf.js';

function rows(n: number, seed: number): number[][] {
  let s = seed;
  const rand = (): number => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5;
  return Array.from({ length: n }, (_, i) => {
    const a = Math.sin(i / 5) + rand() * 0.2;
    return [a, 3 * a + rand() * 0.1, 10 + rand()].map(Math.fround);
  });
}

const options = { ...DEFAULT_AE_OPTIONS, window: 4, hidden: [8], code: 3, epochs: 3, batchSize: 16 };

/** The reconstruction MSE / limit computed by TensorFlow.js itself, from the trained weights. */
async function tfScores(model: AutoencoderModel, windows: number[][]): Promise<number[]> {
  const { tf } = await loadTf();
  return tf.tidy(() => {
    const f = model.mean.length;
    const mean = tf.tensor1d(windows[0]!.map((_, i) => model.mean[i % f]!));
    const scale = tf.tensor1d(windows[0]!.map((_, i) => model.scale[i % f]!));
    const z = tf.tensor2d(windows).sub(mean).div(scale);
    let h = z;
    for (const layer of model.layers) {
      const out = h.matMul(tf.tensor2d(layer.weights, [layer.inputs, layer.outputs])).add(tf.tensor1d(layer.bias));
      h = layer.activation === 'relu' ? tf.relu(out) : out;
    }
    return Array.from(z.sub(h).square().mean(1).div(model.limit).dataSync());
  });
}

describe('dense autoencoder', () => {
  it('trains deterministically from a seed', async () => {
    const train = rows(120, 1);
    const a = await trainAutoencoder(train, options);
    const b = await trainAutoencoder(train, options);
    expect(a.layers[0]!.weights).toEqual(b.layers[0]!.weights);
    expect(a.limit).toBe(b.limit);
  });

  it('exports ONNX whose scores and contributions match TensorFlow.js and the JS reference within 1e-5', async () => {
    const epochs: number[] = [];
    const model = await trainAutoencoder(rows(120, 1), options, (e) => epochs.push(e));
    expect(epochs).toEqual([1, 2, 3]);
    const test = slidingWindows(
      rows(60, 9).map((r, i) => (i > 40 ? r.map((x) => x * 2) : r)),
      options.window,
    );
    const session = await ort.InferenceSession.create(exportAutoencoderOnnx(model));
    const out = await session.run({
      features: new ort.Tensor('float32', Float32Array.from(test.flat()), [test.length, 12]),
    });
    await session.release();
    const onnxScores = Array.from(out.score!.data as Float32Array);
    const reference = await tfScores(model, test);
    const rel = (a: number, b: number): number => Math.abs(a - b) / Math.max(1, Math.abs(b));
    expect(Math.max(...onnxScores.map((s, i) => rel(s, reference[i]!)))).toBeLessThan(1e-5);
    const contributions = out.contributions!.data as Float32Array;
    test.forEach((w, i) => {
      const js = scoreAutoencoder(model, w);
      expect(rel(onnxScores[i]!, js.score)).toBeLessThan(1e-5);
      js.contributions.forEach((c, j) => expect(rel(contributions[i * 3 + j]!, c)).toBeLessThan(1e-5));
    });
    expect(Math.max(...onnxScores)).toBeGreaterThan(1); // the doubled rows must stand out
  });

  it('uses only listed operators', async () => {
    const model = await trainAutoencoder(rows(60, 2), { ...options, epochs: 1 });
    for (const node of autoencoderGraph(model).nodes) expect(SUPPORTED_OPERATORS).toContain(node.op);
  });
});
