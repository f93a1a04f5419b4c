import { format } from 'node:util';
import { OPCUACertificateManager } from 'node-opcua-certificate-manager';
import {
  AttributeIds,
  ClientMonitoredItem,
  MessageSecurityMode,
  OPCUAClient,
  SecurityPolicy,
  setErrorLogger,
  setWarningLogger,
  TimestampsToReturn,
  type ClientSession,
  type DataValue,
} from 'node-opcua-client';
import type { z } from 'zod';
import type { Logger } from '../config/logger.js';
import type { OpcUaSourceSchema } from '../config/schemas/source.js';
import { PdmError } from '../protocol/errors.js';

export type OpcUaSourceConfig = z.output<typeof OpcUaSourceSchema>;

/** What one live connection reports: a node's new value (NaN when its status is not Good), or the connection's end. */
export interface OpcUaHandlers {
  value(node: number, value: number, good: boolean): void;
  /** The server's keep-alive: the subscription lives although nothing changed. */
  alive(): void;
  lost(error: Error): void;
}

/** One client, session and subscription with a monitored item per configured node. */
export interface OpcUaConnection {
  close(): Promise<void>;
}

/** Opens a connection, or rejects with a PdmError that says what to fix. Injected into the source for its unit tests. */
export type OpcUaConnector = (handlers: OpcUaHandlers) => Promise<OpcUaConnection>;

/** node-opcua prints its diagnostics with console.log, which would break the agent's JSON log lines on stdout. */
function routeLibraryLogs(logger: Logger): void {
  // The loggers are called with the caller's context first, then console.log's arguments.
  const at = (context: unknown) => (context as { filename?: string } | undefined)?.filename;
  setWarningLogger((context: unknown, ...args: unknown[]) =>
    logger.debug({ lib: 'node-opcua', at: at(context) }, format(...args)),
  );
  setErrorLogger((context: unknown, ...args: unknown[]) =>
    logger.debug({ lib: 'node-opcua', at: at(context), level: 'error' }, format(...args)),
  );
}

/** OPC UA numbers arrive as JS numbers, booleans, or [high, low] pairs for 64-bit integers; anything else is no number. */
export function numericValue(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'number'))
    return value[0]! * 2 ** 32 + value[1]!;
  return NaN;
}

/** Sampling interval per node, the subscription's publishing interval, and its keep-alive (about every 2 s when idle). */
export function subscriptionTiming(cfg: OpcUaSourceConfig) {
  const intervals = cfg.nodes.map((n) => n.samplingIntervalMs ?? cfg.samplingIntervalMs ?? 1000 / cfg.rateHz);
  const publishingInterval = cfg.publishingIntervalMs ?? Math.max(10, Math.min(...intervals));
  const keepAliveCount = Math.max(1, Math.ceil(2000 / publishingInterval));
  return { intervals, publishingInterval, keepAliveCount, keepAliveMs: publishingInterval * keepAliveCount };
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Turns node-opcua's connection errors into ones that say what to do; the cause is kept. */
export function explain(cfg: OpcUaSourceConfig, cause: Error): PdmError {
  const { pkiDir, mode, policy } = cfg.security;
  const at = `OPC UA server ${cfg.endpoint}`;
  const text = cause.message;
  let message: string;
  if (/server Certificate verification failed/i.test(text))
    message =
      `${at}: its certificate is not trusted (${text.replace(/.*with err /, '')}); check it, then move it from ` +
      `${pkiDir}/rejected/ to ${pkiDir}/trusted/certs/`;
  else if (/BadSecurityChecksFailed|BadCertificate|BadSecurityPolicyRejected|BadIdentityTokenRejected/.test(text))
    message =
      `${at} refused this agent's certificate (${pkiDir}/own/certs/client_certificate.pem): trust it on the server ` +
      `(${text.split('\n')[0]})`;
  else if (/cannot find endpoint|Cannot find an Endpoint/i.test(text))
    message = `${at} offers no endpoint with security mode ${mode} and policy ${mode === 'None' ? 'None' : policy}`;
  else message = `${at}: ${text.split('\n')[0]}`;
  return new PdmError('PDM_ERR_SOURCE', message, { cause });
}

/**
 * The connector for a real server: a fresh node-opcua client per connection (its own reconnection is switched off; the
 * source reconnects with backoff and rebuilds everything, so no half-repaired session survives), SignAndEncrypt or Sign
 * with the certificates in `security.pkiDir`, and one subscription whose monitored items keep only their latest value.
 */
export function opcUaConnector(cfg: OpcUaSourceConfig, logger: Logger): { connect: OpcUaConnector } {
  routeLibraryLogs(logger);
  const { intervals, publishingInterval, keepAliveCount } = subscriptionTiming(cfg);

  const connect: OpcUaConnector = async (handlers) => {
    // Read afresh for every connection, so a certificate moved into trusted/ counts without a restart (and no watchers).
    const certificates = new OPCUACertificateManager({
      rootFolder: cfg.security.pkiDir,
      automaticallyAcceptUnknownCertificate: cfg.security.trustUnknownServer,
      disableFileWatchers: true,
    });
    const client = OPCUAClient.create({
      applicationName: 'edge-pdm-agent',
      securityMode: MessageSecurityMode[cfg.security.mode],
      securityPolicy: cfg.security.mode === 'None' ? SecurityPolicy.None : SecurityPolicy[cfg.security.policy],
      clientCertificateManager: certificates,
      connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 100 },
      endpointMustExist: false,
      keepSessionAlive: false,
      transportTimeout: cfg.timeoutMs,
      defaultTransactionTimeout: cfg.timeoutMs,
      requestedSessionTimeout: Math.max(60_000, publishingInterval * keepAliveCount * 3),
    });
    let closed = false;
    let session: ClientSession | undefined;
    const close = async (): Promise<void> => {
      if (closed) return;
      closed = true;
      await session?.close(true).catch(() => undefined);
      await client.disconnect().catch(() => undefined);
      await certificates.dispose().catch(() => undefined);
    };
    const lost = (error: Error): void => {
      if (closed) return;
      void close();
      handlers.lost(error);
    };
    try {
      await certificates.initialize();
      await withTimeout(client.connect(cfg.endpoint), cfg.timeoutMs, 'connecting');
      client.on('connection_lost', () => lost(new Error('connection lost')));
      client.on('close', (err) => lost(err ?? new Error('connection closed')));
      session = await withTimeout(client.createSession(), cfg.timeoutMs, 'creating the session');
      session.on('session_closed', () => lost(new Error('session closed by the server')));
      const subscription = await withTimeout(
        session.createSubscription2({
          requestedPublishingInterval: publishingInterval,
          requestedMaxKeepAliveCount: keepAliveCount,
          requestedLifetimeCount: keepAliveCount * 10,
          maxNotificationsPerPublish: 0,
          publishingEnabled: true,
          priority: 1,
        }),
        cfg.timeoutMs,
        'creating the subscription',
      );
      subscription.on('terminated', () => lost(new Error('subscription terminated')));
      subscription.on('keepalive', () => handlers.alive());
      const firstValues = cfg.nodes.map(
        (node, index) =>
          new Promise<void>((resolve) => {
            const item = ClientMonitoredItem.create(
              subscription,
              { nodeId: node.nodeId, attributeId: AttributeIds.Value },
              { samplingInterval: intervals[index]!, discardOldest: true, queueSize: 1 },
              TimestampsToReturn.Neither,
            );
            item.on('changed', (dv: DataValue) => {
              // Severity Good is the top two bits 00 (info bits such as Overflow may be set); Uncertain and Bad are not.
              const good = dv.statusCode.value < 0x40000000;
              handlers.value(index, good ? numericValue(dv.value.value) * node.scale + node.offset : NaN, good);
              resolve();
            });
            item.on('err', (message: string) => {
              logger.warn(
                { channel: node.channel, nodeId: node.nodeId, err: message },
                'OPC UA node cannot be monitored; its samples are bad',
              );
              resolve();
            });
          }),
      );
      // The initial values follow the items' creation within a publishing interval or two.
      await Promise.race([Promise.all(firstValues), new Promise((r) => setTimeout(r, publishingInterval * 2 + 500))]);
    } catch (error) {
      await close();
      throw explain(cfg, error as Error);
    }
    return { close };
  };
  return { connect };
}
