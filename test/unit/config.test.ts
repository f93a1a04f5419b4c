import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { envNameFor, loadAgentConfig, loadHubConfig, loadScenario } from '../../config/index.js';
import { validate } from '../../config/loader.js';
import { HubConfigSchema } from '../../config/schemas/hub.js';
import { createHubRegistry } from '../../hub/registry/wire.js';
import { PdmError } from '../../protocol/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'pdm-config-'));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function failure(load: () => unknown): PdmError {
  try {
    load();
  } catch (error) {
    if (error instanceof PdmError) return error;
    throw error;
  }
  throw new Error('expected the config to be rejected');
}

describe('shipped configs', () => {
  it('load with defaults applied and frozen', () => {
    const hub = loadHubConfig('config/hub.yaml', {});
    expect(hub.mqtt.port).toBe(1883);
    expect(hub.store).toEqual({
      engine: 'sqlite',
      coalesceMs: 2,
      dedupRetentionHours: 168,
      snapshotJournalBytes: 16 * 1024 * 1024,
      archiveClosedAfterMinutes: 1440,
      eventsInMemory: 64,
      archiveCompactBytes: 64 * 1024 * 1024,
    });
    expect(Object.isFrozen(hub)).toBe(true);
    expect(Object.isFrozen(hub.mqtt)).toBe(true);
    expect(() => {
      (hub.mqtt as { port: number }).port = 1;
    }).toThrow(TypeError);

    const agent = loadAgentConfig('config/agent.yaml', {});
    expect(agent.device).toBe('pump-001');
    // The decision rule is the detector profile's: the shipped config overrides none of it.
    expect(agent.decision).toEqual({});
    expect(Object.isFrozen(agent.detector)).toBe(true);

    const scenario = loadScenario('config/scenarios/demo.yaml', {});
    expect(scenario.machines.map((m) => m.id)).toEqual(['pump-001', 'pump-002', 'pump-003']);
    expect(scenario.machines[0]!.sampleRateHz).toBe(1000);
  });

  it('fills every default of an almost empty file', () => {
    const hub = loadHubConfig(file('empty.yaml', '# nothing\n'), {});
    expect(hub.http).toMatchObject({ host: '127.0.0.1', port: 8080 });
    expect(hub.log.level).toBe('info');
  });
});

describe('bad configs', () => {
  it('names the file when it is missing', () => {
    const error = failure(() => loadHubConfig(join(dir, 'nope.yaml'), {}));
    expect(error.code).toBe('PDM_ERR_CONFIG_MISSING');
    expect(error.message).toContain('nope.yaml');
  });

  it('names an unknown key with its full path', () => {
    const path = file('unknown.yaml', 'mqtt:\n  prot: 1883\n');
    const error = failure(() => loadHubConfig(path, {}));
    expect(error.code).toBe('PDM_ERR_CONFIG_INVALID');
    expect(error.message).toContain(path);
    expect(error.message).toContain('"mqtt.prot"');
  });

  it('names the key and the expected type', () => {
    const error = failure(() => loadHubConfig(file('type.yaml', 'http:\n  port: eighty\n'), {}));
    expect(error.message).toMatch(/key "http.port": expected number, received string/);
  });

  it('rejects out-of-range values and bad enums', () => {
    expect(failure(() => loadHubConfig(file('range.yaml', 'mqtt:\n  port: 70000\n'), {})).message).toContain(
      'mqtt.port',
    );
    expect(failure(() => loadHubConfig(file('enum.yaml', 'log:\n  level: loud\n'), {})).message).toContain('log.level');
  });

  it('gives the line of a YAML syntax error', () => {
    const error = failure(() => loadHubConfig(file('syntax.yaml', 'mqtt:\n  port: [1883\n'), {}));
    expect(error.code).toBe('PDM_ERR_CONFIG_PARSE');
    expect(error.message).toMatch(/syntax\.yaml line \d/);
  });

  it('rejects a top level that is not a mapping', () => {
    expect(failure(() => loadHubConfig(file('list.yaml', '- 1\n- 2\n'), {})).message).toContain('mapping');
  });

  it('requires the keys that have no default', () => {
    const error = failure(() => loadAgentConfig(file('agent.yaml', 'site: plant-1\n'), {}));
    expect(error.message).toContain('"device"');
    expect(error.message).toContain('"source"');
  });

  it('rejects an id that cannot be a topic level', () => {
    const error = failure(() =>
      loadAgentConfig(
        file('agent-id.yaml', 'site: plant/1\ndevice: d\nsource: { kind: simulator, scenario: x }\n'),
        {},
      ),
    );
    expect(error.message).toContain('key "site"');
  });
});

describe('environment overrides', () => {
  it('maps camelCase paths to upper snake case', () => {
    expect(envNameFor('PDM_HUB_', ['store', 'coalesceMs'])).toBe('PDM_HUB_STORE_COALESCE_MS');
  });

  it('override file values with types coerced per key', () => {
    const hub = loadHubConfig('config/hub.yaml', {
      PDM_HUB_MQTT_PORT: '0',
      PDM_HUB_DATA_DIR: '/tmp/x',
      PDM_HUB_LOG_LEVEL: 'warn',
    });
    expect(hub.mqtt.port).toBe(0);
    expect(hub.dataDir).toBe('/tmp/x');
    expect(hub.log.level).toBe('warn');
    // An id that looks like a number stays a string.
    const agent = loadAgentConfig('config/agent.yaml', { PDM_AGENT_DEVICE: '007' });
    expect(agent.device).toBe('007');
  });

  it('names the variable when its value is wrong', () => {
    const error = failure(() => loadHubConfig('config/hub.yaml', { PDM_HUB_HTTP_PORT: 'abc' }));
    expect(error.message).toContain('environment variable PDM_HUB_HTTP_PORT (key "http.port")');
  });

  it('rejects a variable that names no key', () => {
    const error = failure(() => loadHubConfig('config/hub.yaml', { PDM_HUB_MQTT_PROT: '1' }));
    expect(error.message).toContain('PDM_HUB_MQTT_PROT names no config key');
    expect(error.message).toContain('PDM_HUB_MQTT_PORT');
  });

  it('leaves other prefixes alone', () => {
    expect(loadHubConfig('config/hub.yaml', { PDM_AGENT_DEVICE: 'x', PDM_DEBUG: '1' }).mqtt.port).toBe(1883);
  });
});

describe('registry.rolloutCheckSeconds', () => {
  afterEach(() => vi.useRealTimers());

  it('defaults to 10 s, in the shipped file and in an empty one', () => {
    expect(loadHubConfig('config/hub.yaml', {}).registry.rolloutCheckSeconds).toBe(10);
    expect(loadHubConfig(file('empty.yaml', '# nothing\n'), {}).registry.rolloutCheckSeconds).toBe(10);
  });

  it('is read from the file and from PDM_HUB_REGISTRY_ROLLOUT_CHECK_SECONDS', () => {
    expect(
      loadHubConfig(file('fast.yaml', 'registry:\n  rolloutCheckSeconds: 2\n'), {}).registry.rolloutCheckSeconds,
    ).toBe(2);
    expect(
      loadHubConfig('config/hub.yaml', { PDM_HUB_REGISTRY_ROLLOUT_CHECK_SECONDS: '30' }).registry.rolloutCheckSeconds,
    ).toBe(30);
  });

  it('rejects zero, out-of-range values and unknown keys, naming the key', () => {
    const zero = failure(() => loadHubConfig(file('zero.yaml', 'registry:\n  rolloutCheckSeconds: 0\n'), {}));
    expect(zero.code).toBe('PDM_ERR_CONFIG_INVALID');
    expect(zero.message).toContain('registry.rolloutCheckSeconds');
    const huge = failure(() => loadHubConfig(file('huge.yaml', 'registry:\n  rolloutCheckSeconds: 86400\n'), {}));
    expect(huge.message).toContain('registry.rolloutCheckSeconds');
    const typo = failure(() => loadHubConfig(file('typo.yaml', 'registry:\n  rolloutCheckSecs: 5\n'), {}));
    expect(typo.message).toContain('rolloutCheckSecs');
  });

  it('sets the period of the rollout checks', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const wired = createHubRegistry({
      dataDir: mkdtempSync(join(dir, 'reg-')),
      publish: async () => undefined,
      inspections: () => [],
      logger: pino({ level: 'silent' }),
      tickMs: 2_000,
    });
    const tick = vi.spyOn(wired.registry, 'tick').mockResolvedValue(undefined);
    vi.advanceTimersByTime(5_000);
    expect(tick).toHaveBeenCalledTimes(0); // checks run only once started (by the leader)
    wired.startChecks();
    vi.advanceTimersByTime(1_999);
    expect(tick).toHaveBeenCalledTimes(0);
    vi.advanceTimersByTime(1);
    expect(tick).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(6_000);
    expect(tick).toHaveBeenCalledTimes(4);
    await wired.close();
    vi.advanceTimersByTime(10_000);
    expect(tick).toHaveBeenCalledTimes(4);
  });
});

describe('cluster.mode', () => {
  const shared = {
    cluster: { mode: 'shared', instance: 'hub-a' },
    store: { engine: 'postgres', url: 'postgres://h/db' },
    mqtt: { mode: 'external' },
  };
  it('is single unless set; shared needs postgres, an external broker and an instance, each named', () => {
    expect(validate(HubConfigSchema, {}, 'test').cluster).toEqual({ mode: 'single' });
    expect(validate(HubConfigSchema, shared, 'test').cluster).toEqual({ mode: 'shared', instance: 'hub-a' });
    const fails = (extra: Record<string, unknown>) => () =>
      validate(HubConfigSchema, { ...shared, ...extra }, 'hub.yaml');
    expect(fails({ store: { engine: 'sqlite' } })).toThrow(/cluster\.mode.*store\.engine postgres.*not sqlite/);
    expect(fails({ mqtt: { mode: 'embedded' } })).toThrow(/cluster\.mode.*mqtt\.mode external.*not embedded/);
    expect(fails({ cluster: { mode: 'shared' } })).toThrow(/cluster\.instance.*required with cluster\.mode shared/);
    expect(fails({ cluster: { mode: 'shared', instance: 'a b' } })).toThrow(/cluster\.instance/);
    expect(fails({ cluster: { mode: 'several' } })).toThrow(/cluster\.mode/);
  });
});

describe('store.engine', () => {
  it('is sqlite unless set; postgres needs store.url, named in the error', () => {
    expect(validate(HubConfigSchema, {}, 'test').store.engine).toBe('sqlite');
    expect(() => validate(HubConfigSchema, { store: { engine: 'postgres' } }, 'test')).toThrow(/store\.url.*required/);
    expect(() => validate(HubConfigSchema, { store: { engine: 'mysql' } }, 'test')).toThrow(/store\.engine/);
    const pg = validate(HubConfigSchema, { store: { engine: 'postgres', url: 'postgres://h/db' } }, 'test');
    expect(pg.store).toMatchObject({ engine: 'postgres', url: 'postgres://h/db' });
  });
});
