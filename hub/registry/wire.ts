import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../config/logger.js';
import type { ModelAckMessage, TelemetryMessage } from '../../protocol/messages.js';
import type { OperatorPolicy } from '../../models/onnx/operators.js';
import { artifactHandler, registryApiRoutes, type RegistryRoute } from './http.js';
import { ModelRegistry, type Publish } from './registry.js';
import type { RegistryStorage } from './storage.js';

/** The little the registry needs to know about inspections to count a device's alarms. */
export interface AlarmSource {
  events: ReadonlyArray<{ kind: string; device: string; at: number }>;
}

/** The inspections a device may have events of in [from, to], with every event (also spilled or archived ones). */
export type AlarmSources = (site: string, device: string, from: number, to: number) => Iterable<AlarmSource>;

/** Anomaly events of one device in [from, to], from the inspections the hub keeps. */
export function countAlarmsIn(sources: AlarmSources) {
  return (site: string, device: string, from: number, to: number): number => {
    let n = 0;
    for (const i of sources(site, device, from, to)) {
      for (const e of i.events) if (e.kind === 'anomaly' && e.device === device && e.at >= from && e.at <= to) n++;
    }
    return n;
  };
}

export interface HubRegistry {
  registry: ModelRegistry;
  /** Put in front of the HTTP router (no session: devices download here); true when it answered the request. */
  artifacts: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** Entries for the hub's route table (session, role and CSRF checked by its router). */
  apiRoutes: RegistryRoute[];
  /** Hand every valid `model/ack` here (from ingest). */
  handleAck: (ack: ModelAckMessage) => Promise<void>;
  /** Hand every accepted telemetry message here (from ingest): the canaries' scores are a rollout's evidence. */
  handleTelemetry: (msg: Pick<TelemetryMessage, 'site' | 'device' | 'model'>) => void;
  /** Starts checking rollouts every `tickMs` (the leader's duty: one process steps them); stopChecks ends it. */
  startChecks(): void;
  stopChecks(): void;
  close(): Promise<void>;
}

/**
 * What the hub's composition root calls: the registry under `<dataDir>/registry`, its HTTP parts, and a timer
 * (from startChecks) that checks canary alarm rates and soak periods.
 */
export function createHubRegistry(opts: {
  dataDir: string;
  publish: Publish;
  inspections: AlarmSources;
  logger: Logger;
  baseUrl?: string;
  /** How often rollouts are checked: the hub passes its `registry.rolloutCheckSeconds`. */
  tickMs: number;
  /** The hub's `rollouts.approvals`: 2 = a second supervisor approves each rollout. */
  approvals?: 1 | 2;
  /** The hub's `registry.allowedOperators`; unset = the default allow-list. */
  allowedOperators?: OperatorPolicy | undefined;
  onChange?: () => void;
  /** Shared mode: the fleet's registry in PostgreSQL (openRegistryStorage); default: files under `dataDir`. */
  storage?: RegistryStorage | undefined;
}): HubRegistry {
  const registry = new ModelRegistry({
    dir: join(opts.dataDir, 'registry'),
    publish: opts.publish,
    countAlarms: countAlarmsIn(opts.inspections),
    logger: opts.logger,
    ...(opts.allowedOperators ? { allowedOperators: opts.allowedOperators } : {}),
    ...(opts.onChange ? { onChange: opts.onChange } : {}),
    ...(opts.approvals ? { approvals: opts.approvals } : {}),
    ...(opts.baseUrl ? { baseUrl: opts.baseUrl } : {}),
    ...(opts.storage ? { storage: opts.storage } : {}),
  });
  let timer: NodeJS.Timeout | undefined;
  const stopChecks = () => {
    clearInterval(timer);
    timer = undefined;
  };
  return {
    registry,
    artifacts: artifactHandler(registry),
    apiRoutes: registryApiRoutes(registry),
    handleAck: (ack) => registry.handleAck(ack),
    handleTelemetry: (msg) => registry.observeScore(msg.site, msg.device, msg.model),
    startChecks: () => {
      if (timer) return;
      registry.listen();
      timer = setInterval(() => {
        registry.tick().catch((error: Error) => opts.logger.error({ err: error.message }, 'rollout tick failed'));
      }, opts.tickMs);
      timer.unref();
    },
    stopChecks,
    close: async () => {
      stopChecks();
      await registry.close();
    },
  };
}
