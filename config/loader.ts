import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { PdmError } from '../protocol/errors.js';

/** Anything zod-shaped we need to walk: we only read `_zod.def`, which zod 4 documents for introspection. */
type Def = { type: string; innerType?: z.ZodType; shape?: Record<string, z.ZodType>; options?: z.ZodType[] };
const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

type LeafKind = 'string' | 'number' | 'boolean' | 'other';
interface Leaf {
  path: string[];
  kind: LeafKind;
}

function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (;;) {
    const def = defOf(current);
    if (!['default', 'prefault', 'optional', 'nullable', 'readonly'].includes(def.type) || !def.innerType)
      return current;
    current = def.innerType;
  }
}

/** Every settable leaf of a config schema, so each can be named by a `PDM_*` variable. */
function leavesOf(schema: z.ZodType, path: string[] = []): Leaf[] {
  const inner = unwrap(schema);
  const def = defOf(inner);
  if (def.type === 'object' && def.shape) {
    return Object.entries(def.shape).flatMap(([key, child]) => leavesOf(child, [...path, key]));
  }
  if (def.type === 'union' && def.options?.some((o) => defOf(unwrap(o)).type === 'object')) {
    // A union of objects (e.g. the agent's source kinds): every key of every variant can be set; first one wins.
    const seen = new Map<string, Leaf>();
    for (const leaf of def.options.flatMap((option) => leavesOf(option, path))) {
      const key = leaf.path.join('.');
      if (!seen.has(key) || seen.get(key)!.kind === 'other') seen.set(key, leaf);
    }
    return [...seen.values()];
  }
  const kind: LeafKind =
    def.type === 'string' || def.type === 'enum' || def.type === 'literal'
      ? 'string'
      : def.type === 'number'
        ? 'number'
        : def.type === 'boolean'
          ? 'boolean'
          : 'other';
  return [{ path, kind }];
}

const snake = (key: string): string => key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();

export function envNameFor(prefix: string, path: string[]): string {
  return prefix + path.map(snake).join('_');
}

function coerce(raw: string, kind: LeafKind): unknown {
  switch (kind) {
    case 'string':
      return raw;
    case 'number':
      return raw.trim() === '' ? raw : Number(raw);
    case 'boolean':
      return raw === 'true' ? true : raw === 'false' ? false : raw;
    default:
      return parseYaml(raw) as unknown;
  }
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

export interface LoadOptions {
  /** e.g. `PDM_HUB_`: every variable with this prefix must name a key of the schema. */
  envPrefix: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Loads one config: YAML file, then `PDM_*` environment overrides, then the strict schema (unknown keys rejected,
 * defaults applied). The result is deeply frozen. Every error names the file or variable, the key and what was expected.
 */
export function loadConfig<S extends z.ZodType>(schema: S, file: string, options: LoadOptions): Readonly<z.output<S>> {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    const reason = (cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (cause as Error).message;
    throw new PdmError('PDM_ERR_CONFIG_MISSING', `${path}: ${reason}`, { cause });
  }
  let raw: unknown;
  try {
    raw = parseYaml(text) ?? {};
  } catch (cause) {
    const where = cause instanceof YAMLParseError && cause.linePos ? ` line ${cause.linePos[0].line}` : '';
    throw new PdmError('PDM_ERR_CONFIG_PARSE', `${path}${where}: ${(cause as Error).message.split('\n')[0]}`, {
      cause,
    });
  }
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new PdmError('PDM_ERR_CONFIG_INVALID', `${path}: the top level must be a mapping of keys`);
  }
  const data = raw as Record<string, unknown>;
  const fromEnv = applyEnvOverrides(schema, data, options);
  return validate(schema, data, path, fromEnv);
}

/** Validates an already-parsed object (scenarios embedded elsewhere, tests). */
export function validate<S extends z.ZodType>(
  schema: S,
  data: unknown,
  source: string,
  fromEnv: Map<string, string> = new Map(),
): Readonly<z.output<S>> {
  const parsed = schema.safeParse(data);
  if (parsed.success) return deepFreeze(parsed.data);
  const problems = parsed.error.issues.map((issue) => {
    const key = issue.path.join('.');
    const variable = fromEnv.get(key);
    const where = variable ? `environment variable ${variable} (key "${key}")` : `key "${key || '(top level)'}"`;
    if (issue.code === 'unrecognized_keys') {
      const names = issue.keys.map((k) => (key ? `${key}.${k}` : k));
      return `unknown key${names.length > 1 ? 's' : ''} ${names.map((n) => `"${n}"`).join(', ')}`;
    }
    return `${where}: ${issue.message.replace(/^Invalid input: /, '')}`;
  });
  throw new PdmError('PDM_ERR_CONFIG_INVALID', `${source}: ${problems.join('; ')}`);
}

function applyEnvOverrides(
  schema: z.ZodType,
  data: Record<string, unknown>,
  options: LoadOptions,
): Map<string, string> {
  const env = options.env ?? process.env;
  const leaves = new Map(leavesOf(schema).map((leaf) => [envNameFor(options.envPrefix, leaf.path), leaf]));
  const applied = new Map<string, string>();
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(options.envPrefix) || value === undefined) continue;
    const leaf = leaves.get(name);
    if (!leaf) {
      throw new PdmError(
        'PDM_ERR_CONFIG_INVALID',
        `environment variable ${name} names no config key; known: ${[...leaves.keys()].join(', ')}`,
      );
    }
    setPath(data, leaf.path, coerce(value, leaf.kind));
    applied.set(leaf.path.join('.'), name);
  }
  return applied;
}
