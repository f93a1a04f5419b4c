import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { download, type FetchLike } from '../../agent/model-sync/download.js';
import { chooseProviders, SessionRuntime } from '../../agent/model-sync/session.js';
import { shadowProblem } from '../../agent/model-sync/shadow.js';
import { SwappableModel } from '../../agent/model-sync/swappable.js';
import { readModel } from '../../models/artifacts.js';
import { sealCard, type ModelCard } from '../../models/card.js';
import type { ModelRuntime, ModelScore } from '../../models/runtime.js';
import { decode } from '../../protocol/codec.js';
import { isPdmError } from '../../protocol/errors.js';

const shipped = readModel(fileURLToPath(new URL('../../models/default/pump-vibration-pca.card.json', import.meta.url)));
const opts = {
  attempts: 3,
  retryMinMs: 1,
  retryMaxMs: 2,
  timeoutMs: 1000,
  maxBytes: 1000,
  sleep: async () => undefined,
};
const body = (status: number, text = '') => new Response(status === 204 ? null : text, { status });

describe('execution providers', () => {
  it('keeps only listed providers whose library is installed, always ending with cpu, and says why it dropped one', () => {
    const probe = { listed: ['cpu', 'cuda'], libraryPresent: () => false };
    expect(chooseProviders(['cuda', 'tensorrt', 'cpu'], probe)).toEqual({
      providers: ['cpu'],
      dropped: [
        { provider: 'cuda', why: 'libonnxruntime_providers_cuda.so is not installed' },
        { provider: 'tensorrt', why: 'this onnxruntime-node build does not list tensorrt' },
      ],
    });
    expect(chooseProviders(['cuda'], { listed: ['cpu', 'cuda'], libraryPresent: () => true }).providers).toEqual([
      'cuda',
      'cpu',
    ]);
  });

  it('a session asked for cuda on this CPU-only machine runs on cpu and warns', async () => {
    const warnings: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => warnings.push(line) });
    const runtime = await SessionRuntime.create(shipped, ['cuda'], log);
    expect(runtime.providers).toEqual(['cpu']);
    expect(warnings.join('')).toMatch(/execution provider unavailable/);
    const [s] = await runtime.score([shipped.card.normalisation.mean]);
    expect(Number.isFinite(s!.score)).toBe(true);
    await runtime.close();
  });
});

describe('artifact download', () => {
  it('retries network errors and 5xx, then succeeds', async () => {
    const answers = [
      () => Promise.reject(new Error('ECONNRESET')),
      () => Promise.resolve(body(503)),
      () => Promise.resolve(body(200, 'ok')),
    ];
    const fetch: FetchLike = () => answers.shift()!();
    const retries: number[] = [];
    expect((await download('http://h/x', { ...opts, fetch, onRetry: (n) => retries.push(n) })).toString()).toBe('ok');
    expect(retries).toEqual([1, 2]);
  });

  it('gives up after the configured attempts with the last reason, and at once on a 404', async () => {
    let calls = 0;
    const failing: FetchLike = async () => (calls++, body(500));
    await expect(download('http://h/x', { ...opts, fetch: failing })).rejects.toThrow(
      /gave up after 3 attempts: GET http:\/\/h\/x answered 500/,
    );
    expect(calls).toBe(3);
    calls = 0;
    const missing: FetchLike = async () => (calls++, body(404));
    await expect(download('http://h/x', { ...opts, fetch: missing })).rejects.toThrow(/answered 404/);
    expect(calls).toBe(1);
  });

  it('refuses a larger announced length before reading, and stops reading a body that runs over the limit', async () => {
    let pulled = 0;
    const endless = (): Response =>
      new Response(
        new ReadableStream<Uint8Array>({
          pull: (c) => void (pulled++, c.enqueue(new Uint8Array(100))),
        }),
      );
    let calls = 0;
    const over = download('http://h/x', { ...opts, fetch: async () => (calls++, endless()) });
    await expect(over).rejects.toThrow(/sent more than 1000 bytes; stopped reading there/);
    await expect(over).rejects.toMatchObject({ code: 'PDM_ERR_MODEL_TOO_LARGE' });
    expect(calls).toBe(1); // final: not retried
    expect(pulled).toBeLessThan(20);
    const announced = new Response('x'.repeat(2000), { headers: { 'content-length': '2000' } });
    await expect(download('http://h/x', { ...opts, fetch: async () => announced })).rejects.toThrow(
      /announces 2000 bytes, limit 1000; not downloaded/,
    );
  });
});

/** A scripted runtime: mocks nothing real, it stands in for a model whose scores a test must control. */
class Scripted implements ModelRuntime {
  closed = false;
  constructor(
    readonly card: ModelCard,
    private readonly fn: (row: readonly number[]) => number,
    private readonly gate?: Promise<void>,
  ) {}
  async score(batch: ReadonlyArray<ReadonlyArray<number>>): Promise<ModelScore[]> {
    await this.gate;
    return batch.map((row) => ({
      score: this.fn(row),
      threshold: this.card.threshold.value,
      contributions: row.map(() => 0),
    }));
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

describe('shadow scoring', () => {
  const card = shipped.card;
  const limits = { maxScoreRatio: 1000, maxAlarmShare: 0.5 };
  const rows = Array.from({ length: 10 }, () => [...card.normalisation.mean]);

  it('accepts sane scores and names what is wrong otherwise', async () => {
    expect(await shadowProblem(new Scripted(card, () => 0.1), card, rows, limits)).toBeUndefined();
    expect(await shadowProblem(new Scripted(card, () => NaN), card, rows, limits)).toMatch(
      /the training mean scored NaN/,
    );
    expect(await shadowProblem(new Scripted(card, () => card.threshold.value * 2000), card, rows, limits)).toMatch(
      /sane: finite/,
    );
    let n = 0;
    expect(
      await shadowProblem(new Scripted(card, () => (n++ === 0 ? 0 : card.threshold.value * 2)), card, rows, limits),
    ).toMatch(/10 of 10 recent windows would alarm/);
    expect(await shadowProblem(new Scripted(card, () => card.threshold.value), card, [], limits)).toMatch(
      /training mean scores .* at or over the threshold/,
    );
    const other = sealCard({ ...card, features: { ...card.features, names: card.features.names.slice(0, 4) } });
    expect(await shadowProblem(new Scripted(card, () => 0), other, rows, limits)).toMatch(
      /inputs differ from the running model/,
    );
  });
});

describe('SwappableModel', () => {
  it('finishes in-flight batches on the old model, scores new batches on the new one, and remembers recent rows', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const oldModel = new Scripted(shipped.card, () => 1, gate);
    const newModel = new Scripted(shipped.card, () => 2);
    const model = new SwappableModel(oldModel, 3);
    const inFlight = model.score([[1], [2]]);
    let swapped = false;
    const swap = model.swap(newModel).then((prev) => ((swapped = true), prev));
    expect((await model.score([[3]]))[0]!.score).toBe(2);
    expect(swapped).toBe(false); // the old model still has a batch in flight
    release();
    expect((await inFlight).map((s) => s.score)).toEqual([1, 1]);
    expect(await swap).toBe(oldModel);
    expect(model.recent()).toEqual([[3], [1], [2]]);
  });

  it('reports a non-finite score during probation, and passing it', async () => {
    const model = new SwappableModel(new Scripted(shipped.card, () => 1));
    const bad: number[] = [];
    let passed = 0;
    await model.swap(new Scripted(shipped.card, () => NaN), {
      windows: 2,
      onBadScore: (s) => bad.push(s),
      onPassed: () => passed++,
    });
    await model.score([[1]]);
    expect(bad).toEqual([NaN]);
    await model.swap(new Scripted(shipped.card, () => 1), {
      windows: 2,
      onBadScore: (s) => bad.push(s),
      onPassed: () => passed++,
    });
    await model.score([[1]]);
    expect(passed).toBe(0);
    await model.score([[1]]);
    expect(passed).toBe(1);
  });
});

describe('manifest validation', () => {
  const topic = 'pdm/v1/s/d/model';
  const good = {
    v: 1,
    id: '01939a3b-8a3c-7cc1-8e2a-3f2a1b4c5d6e',
    ts: 1,
    site: 's',
    device: 'd',
    bootId: '01939a3b-8a3c-7cc1-8e2a-3f2a1b4c5d6e',
    seq: 0,
    modelId: 'pump',
    version: '2',
    sha256: 'a'.repeat(64),
    size: 10,
    signature: 'AAAA',
    url: '/models/pump/2/bundle',
  };
  it('accepts a well-formed manifest and names the field of a bad one', () => {
    expect(decode(topic, JSON.stringify(good)).ok).toBe(true);
    const cases: Array<[object, RegExp]> = [
      [{ sha256: 'xyz' }, /sha256: must be 64 lowercase hex digits/],
      [{ size: -1 }, /size/],
      [{ signature: 'not base64!' }, /signature: must be base64/],
      [{ device: 'other' }, /other/],
    ];
    for (const [change, reason] of cases) {
      const r = decode(topic, JSON.stringify({ ...good, ...change }));
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.message).toMatch(reason);
    }
    const r = decode(topic, '{');
    expect(!r.ok && isPdmError(r.error, 'PDM_ERR_BAD_JSON')).toBe(true);
  });
});
