/**
 * TensorFlow.js, loaded once: `@tensorflow/tfjs-node` (native, fast) when it is installed, else the pure-JS
 * `@tensorflow/tfjs` CPU backend. Both expose the same API, so training code does not care which one it got.
 */
export type Tf = typeof import('@tensorflow/tfjs');

let loaded: Promise<{ tf: Tf; backend: string }> | undefined;

export function loadTf(): Promise<{ tf: Tf; backend: string }> {
  loaded ??= (async () => {
    let tf: Tf;
    try {
      const nodeModule = '@tensorflow/tfjs-node'; // a variable, so tsc does not require the optional package
      tf = (await import(nodeModule)) as Tf;
    } catch {
      tf = await import('@tensorflow/tfjs');
    }
    await tf.ready();
    return { tf, backend: tf.getBackend() };
  })();
  return loaded;
}
