import { z } from 'zod';
import { PdmError } from '../../protocol/errors.js';
import { decodeBundle } from '../../models/bundle.js';
import type { ModelRegistry } from './registry.js';
import type { RolloutState } from './rollout.js';
import { AbortRequestSchema, RolloutRequestSchema } from './schemas.js';
import type { RegistryEntry } from './store.js';

function parse<T>(schema: z.ZodType<T>, body: unknown, code: 'PDM_ERR_ROLLOUT' | 'PDM_ERR_REGISTRY'): T {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  throw new PdmError(code, `${issue.path.join('.') || '(body)'}: ${issue.message}`);
}

/**
 * The registry's mutating operations for the hub's HTTP API. The hub's router authenticates, checks the role
 * (supervisor) and CSRF, parses the JSON body, then calls these; every bad body throws a PdmError naming the field.
 */
export function registryActions(registry: ModelRegistry) {
  return {
    /** POST /api/models with a model bundle ({ schema, card, onnx: base64 }). */
    upload(body: unknown): RegistryEntry {
      const artifact = decodeBundle(Buffer.from(JSON.stringify(body)), 'upload');
      return registry.store.add(artifact);
    },
    /** POST /api/rollouts, by the logged-in supervisor `by` (recorded; the one who may not approve it). */
    async rollout(body: unknown, by?: string): Promise<RolloutState> {
      const req = parse(RolloutRequestSchema, body, 'PDM_ERR_ROLLOUT');
      return registry.start(
        {
          model: { modelId: req.modelId, version: req.version },
          canaries: req.canaries,
          rest: req.rest,
          ...(req.policy ? { policy: stripUndefined(req.policy) } : {}),
        },
        by,
      );
    },
    /** POST /api/rollouts/{id}/approve, by a supervisor other than the one who started it. */
    async approve(id: string, by: string | undefined): Promise<RolloutState> {
      if (!by) throw new PdmError('PDM_ERR_APPROVAL', 'an approval needs a logged-in supervisor');
      return registry.approve(id, by);
    },
    /** POST /api/rollouts/{id}/abort */
    async abort(id: string, body: unknown): Promise<RolloutState> {
      const { reason } = parse(AbortRequestSchema, body ?? {}, 'PDM_ERR_ROLLOUT');
      return registry.abort(id, reason ?? 'aborted by operator');
    },
  };
}

function stripUndefined<T extends object>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]: Exclude<T[K], undefined>;
  };
}
