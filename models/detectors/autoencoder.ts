import { columnMeans, columnStds, quantile } from '../linalg.js';
import { loadTf } from '../tf.js';

/**
 * Dense autoencoder over sliding windows of `window` consecutive feature rows (flattened, oldest first), trained with
 * TensorFlow.js on standardised windows. Deterministic: seeded initialisers and a seeded batch order.
 * Calibration rule: limit = `limitQuantile` quantile of the training windows' mean squared error × `limitFactor`;
 * score = MSE / limit, so 1.0 is the threshold, as for PCA.
 */
export interface AutoencoderOptions {
  window: number;
  hidden: number[];
  code: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  limitQuantile: number;
  limitFactor: number;
}

export const DEFAULT_AE_OPTIONS: AutoencoderOptions = {
  window: 10,
  hidden: [32],
  code: 8,
  epochs: 40,
  batchSize: 32,
  learningRate: 0.003,
  seed: 42,
  limitQuantile: 0.99,
  limitFactor: 1.5,
};

export interface DenseLayer {
  /** in × out, row-major. */
  weights: number[];
  bias: number[];
  inputs: number;
  outputs: number;
  activation: 'relu' | 'linear';
}

export interface AutoencoderModel {
  kind: 'dense-ae';
  /** Per feature (length F); applied to every row of the window. */
  mean: number[];
  scale: number[];
  window: number;
  layers: DenseLayer[];
  limit: number;
  options: AutoencoderOptions;
  finalLoss: number;
}

/** Flattened windows ending at each row from `window − 1` on; a window's row order is oldest first. */
export function slidingWindows(rows: readonly number[][], window: number): number[][] {
  const out: number[][] = [];
  for (let end = window - 1; end < rows.length; end++) out.push(rows.slice(end - window + 1, end + 1).flat());
  return out;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function trainAutoencoder(
  rows: readonly number[][],
  options: AutoencoderOptions = DEFAULT_AE_OPTIONS,
  onEpoch?: (epoch: number, loss: number) => void,
): Promise<AutoencoderModel> {
  const { tf } = await loadTf();
  if (rows.length < options.window + 1)
    throw new Error(`autoencoder needs more than ${options.window} training rows, got ${rows.length}`);
  const mean = columnMeans(rows).map(Math.fround);
  const scale = columnStds(rows, mean).map(Math.fround);
  const z = rows.map((row) => row.map((x, j) => (x - mean[j]!) / scale[j]!));
  const windows = slidingWindows(z, options.window);
  const width = windows[0]!.length;
  const sizes = [width, ...options.hidden, options.code, ...[...options.hidden].reverse(), width];
  const model = tf.sequential();
  sizes.slice(1).forEach((units, i) => {
    const last = i === sizes.length - 2;
    model.add(
      tf.layers.dense({
        units,
        ...(i === 0 ? { inputShape: [width] } : {}),
        activation: last ? 'linear' : 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed: options.seed + i }),
        biasInitializer: 'zeros',
      }),
    );
  });
  const optimizer = tf.train.adam(options.learningRate);
  const data = tf.tensor2d(windows);
  const rand = mulberry32(options.seed);
  let loss = NaN;
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    const order = windows.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    let sum = 0;
    for (let start = 0; start < order.length; start += options.batchSize) {
      const idx = tf.tensor1d(order.slice(start, start + options.batchSize), 'int32');
      const batch = tf.gather(data, idx);
      const cost = optimizer.minimize(
        () =>
          tf.losses.meanSquaredError(
            batch,
            model.apply(batch) as import('@tensorflow/tfjs').Tensor,
          ) as import('@tensorflow/tfjs').Scalar,
        true,
      );
      sum += (await cost!.data())[0]! * (idx.shape[0] ?? 0);
      tf.dispose([idx, batch, cost!]);
    }
    loss = sum / order.length;
    onEpoch?.(epoch + 1, loss);
  }
  data.dispose();
  const layers: DenseLayer[] = [];
  for (let i = 0; i < model.layers.length; i++) {
    const [kernel, bias] = model.layers[i]!.getWeights();
    layers.push({
      weights: Array.from(await kernel!.data()),
      bias: Array.from(await bias!.data()),
      inputs: sizes[i]!,
      outputs: sizes[i + 1]!,
      activation: i === model.layers.length - 1 ? 'linear' : 'relu',
    });
  }
  model.dispose();
  optimizer.dispose();
  const ae: AutoencoderModel = {
    kind: 'dense-ae',
    mean,
    scale,
    window: options.window,
    layers,
    limit: 1,
    options,
    finalLoss: loss,
  };
  const train = slidingWindows(rows as number[][], options.window).map((w) => reconstructionError(ae, w).mse);
  ae.limit = Math.fround(Math.max(1e-9, quantile(train, options.limitQuantile) * options.limitFactor));
  return ae;
}

/** JS reference forward pass on one flattened raw window: per-element squared error and the MSE. */
export function reconstructionError(
  model: AutoencoderModel,
  flatWindow: readonly number[],
): { mse: number; squared: number[] } {
  const f = model.mean.length;
  const z = flatWindow.map((x, i) => Math.fround((x - model.mean[i % f]!) / model.scale[i % f]!));
  let h = z;
  for (const layer of model.layers) {
    const next = new Array<number>(layer.outputs).fill(0);
    for (let o = 0; o < layer.outputs; o++) {
      let s = layer.bias[o]!;
      for (let k = 0; k < layer.inputs; k++) s += h[k]! * layer.weights[k * layer.outputs + o]!;
      next[o] = layer.activation === 'relu' ? Math.max(0, s) : s;
    }
    h = next;
  }
  const squared = z.map((x, i) => (x - h[i]!) ** 2);
  return { mse: squared.reduce((s, v) => s + v, 0) / squared.length, squared };
}

/** Score = MSE / limit; contributions[j] = feature j's share of the squared error summed over the window, / limit. */
export function scoreAutoencoder(
  model: AutoencoderModel,
  flatWindow: readonly number[],
): { score: number; contributions: number[] } {
  const { mse, squared } = reconstructionError(model, flatWindow);
  const f = model.mean.length;
  const contributions = new Array<number>(f).fill(0);
  squared.forEach((s, i) => (contributions[i % f]! += s / squared.length / model.limit));
  return { score: mse / model.limit, contributions };
}
