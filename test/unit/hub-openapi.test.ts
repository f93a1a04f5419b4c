import { describe, expect, it } from 'vitest';
import { openapi } from '../../hub/http/openapi.js';
import { routes } from '../../hub/http/routes.js';

const SAMPLE: Record<string, string> = {
  id: '0190f5f4-1c2d-7a00-8000-000000000000',
  site: 'plant-1',
  device: 'pump-001',
};

describe('OpenAPI document', () => {
  const documented = Object.entries(openapi.paths).flatMap(([path, ops]) =>
    Object.keys(ops).map((method) => ({
      method: method.toUpperCase(),
      path,
      concrete: path.replace(/\{(\w+)\}/g, (_m, name: string) => SAMPLE[name]!),
    })),
  );

  it('documents every route, and documents no route that does not exist', () => {
    for (const route of routes) {
      const hit = documented.find((d) => d.method === route.method && route.path.test(d.concrete));
      expect(hit, `${route.method} ${route.path} is not in openapi.ts`).toBeDefined();
    }
    for (const d of documented) {
      expect(
        routes.some((r) => r.method === d.method && r.path.test(d.concrete)),
        `${d.method} ${d.path} has no route`,
      ).toBe(true);
    }
  });

  it('marks every mutating route but login with the CSRF requirement', () => {
    for (const d of documented.filter((x) => x.method === 'POST' && x.path !== '/api/login')) {
      const op = (openapi.paths as Record<string, Record<string, { security?: unknown }>>)[d.path]!.post!;
      expect(op.security, d.path).toEqual([{ session: [], csrf: [] }]);
    }
  });
});
