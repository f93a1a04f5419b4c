import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ScoreHistory } from '../../hub/http/score-history.js';
import { createStaticHandler } from '../../hub/http/static.js';

describe('score history', () => {
  it('downsamples to the requested points and keeps every spike', () => {
    const history = new ScoreHistory({ fineCapacity: 10_000 });
    for (let i = 0; i < 5000; i++) history.add('s/d', i * 1000, i === 3333 ? 99 : 1, 2);
    const series = history.read('s/d', 100);
    expect(series.t.length).toBe(100);
    expect(Math.max(...series.score)).toBe(99);
    expect(series.t).toContain(3333 * 1000);
    expect(series.threshold.every((v) => v === 2)).toBe(true);
  });

  it('keeps the recent past at full resolution and older data as per-bucket maxima, bounded', () => {
    const history = new ScoreHistory({ fineCapacity: 10, bucketMs: 10, coarseCapacity: 5 });
    for (let t = 0; t < 100; t++) history.add('k', t, t % 10 === 3 ? 50 + t : 1, 0);
    const series = history.read('k', 1000);
    // Fine tier: the last 10 raw points (90..99). Coarse: the 5 newest 10-ms buckets are 50..90; bucket 90 is
    // covered by the fine tier, so 50..80 remain, each its maximum.
    expect(series.t.slice(-10)).toEqual([90, 91, 92, 93, 94, 95, 96, 97, 98, 99]);
    expect(series.t.slice(0, -10)).toEqual([50, 60, 70, 80]);
    expect(series.score.slice(0, -10)).toEqual([103, 113, 123, 133]);
  });

  it('reads a time range and nothing for unknown devices', () => {
    const history = new ScoreHistory({ fineCapacity: 100 });
    for (let i = 0; i < 50; i++) history.add('k', i, i, 0);
    expect(history.read('k', 100, 10, 12).t).toEqual([10, 11, 12]);
    expect(history.read('nobody', 10)).toEqual({ t: [], score: [], threshold: [] });
  });

  it('holds a small buffer for a device heard a few times, and at most its retention for one heard for days', () => {
    const history = new ScoreHistory();
    for (let i = 0; i < 3; i++) history.add('few', i * 500, 1, 2);
    // Two tiers of 8 rows (a float64 time, a float32 score and threshold), not 1,800 + 4,320 preallocated rows.
    expect(history.bytes('few')).toBe(2 * 8 * 16);
    // A new minute bucket on every sample fills both tiers: 1,800 raw rows and 4,320 per-minute maxima, then no more.
    for (let i = 0; i < 6000; i++) history.add('busy', i * 60_000, 1, 2);
    const full = (1800 + 4320) * 16;
    expect(history.bytes('busy')).toBe(full);
    for (let i = 6000; i < 7000; i++) history.add('busy', i * 60_000, 1, 2);
    expect(history.bytes('busy')).toBe(full);
    expect(history.bytes('nobody')).toBe(0);
  });
});

describe('static dashboard files', () => {
  const root = mkdtempSync(join(tmpdir(), 'pdm-static-'));
  mkdirSync(join(root, 'assets'));
  writeFileSync(join(root, 'index.html'), '<html>index</html>');
  writeFileSync(join(root, 'assets', 'app.js'), 'console.log(1)');
  writeFileSync(join(tmpdir(), 'secret.txt'), 'do not serve');
  const serve = createStaticHandler(root);

  function fakeResponse() {
    const res = { status: 0, headers: {} as Record<string, string>, body: '' };
    const api = {
      writeHead(status: number, headers: Record<string, string>) {
        res.status = status;
        res.headers = headers;
      },
      end(body: Buffer) {
        res.body = body.toString();
      },
    };
    return { res, api: api as unknown as ServerResponse };
  }

  it('serves files with their type and a strict CSP', async () => {
    const { res, api } = fakeResponse();
    expect(await serve('/assets/app.js', api)).toBe(true);
    expect(res.headers['content-type']).toContain('javascript');
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    expect(res.body).toBe('console.log(1)');
  });

  it('never leaves its folder', async () => {
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/../../secret.txt']) {
      const { res, api } = fakeResponse();
      await serve(path, api);
      expect(res.body).not.toContain('do not serve');
    }
  });

  it('answers / with index.html and leaves unknown paths to the API (a 404)', async () => {
    const { res, api } = fakeResponse();
    expect(await serve('/', api)).toBe(true);
    expect(res.body).toBe('<html>index</html>');
    expect(await serve('/no/such/page', fakeResponse().api)).toBe(false);
    expect(await serve('/assets', fakeResponse().api)).toBe(false);
    expect(await serve('/%E0%A4%A', fakeResponse().api)).toBe(false);
  });
});
