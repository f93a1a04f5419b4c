import cron from 'node-cron';
import { z } from 'zod';
import { MAX_PAYLOAD_BYTES } from '../../protocol/messages.js';
import { SEVERITIES } from '../../protocol/messages.js';
import { id, LogSchema, port } from './common.js';

const RoutingPolicySchema = z.strictObject({
  /** Anomalies at or above this severity open an inspection at once; lower ones start as a watch item. */
  inspectFrom: z.enum(SEVERITIES).default('warning'),
  /** A watch still not cleared after this long becomes an inspection. */
  promoteAfterSeconds: z.number().min(0).max(86_400).default(60),
  /** A watch that collects this many anomaly events becomes an inspection. */
  promoteAfterEvents: z.number().int().min(1).max(1000).default(3),
});

/** What people can subscribe to. `overdue`: the hub escalated it because nobody acknowledged it in time. */
export const NOTIFICATION_KINDS = ['opened', 'escalated', 'overdue', 'follow_up'] as const;

/** Every section of the hub's config; HubConfigSchema adds the rules that span sections. */
const HubSections = z.strictObject({
  mqtt: z
    .strictObject({
      host: z.string().default('0.0.0.0'),
      port: port.default(1883),
      maxPayloadBytes: z.number().int().min(256).max(MAX_PAYLOAD_BYTES).default(MAX_PAYLOAD_BYTES),
      /**
       * MQTT over TLS beside plain TCP (embedded mode). With `clientCaFile`, a device may present a certificate signed by
       * that CA whose subject CN is `site/device`: it is then that device (user name and client id must match it).
       * `requireClientCert` refuses TLS clients without one; `certificateOnly` lets such a device log in without its
       * password (otherwise it needs both).
       */
      tls: z
        .strictObject({
          port: port.default(8883),
          certFile: z.string().min(1),
          keyFile: z.string().min(1),
          clientCaFile: z.string().min(1).optional(),
          requireClientCert: z.boolean().default(false),
          certificateOnly: z.boolean().default(false),
        })
        .refine((t) => t.clientCaFile || (!t.requireClientCert && !t.certificateOnly), {
          message: 'requireClientCert and certificateOnly need clientCaFile (the CA that signs device certificates)',
          path: ['clientCaFile'],
        })
        .optional(),
      /** MQTT over WebSocket, for browsers (embedded mode). */
      websocket: z
        .strictObject({ port: port.default(8083), path: z.string().startsWith('/').default('/mqtt') })
        .optional(),
      /** What one client may cost the embedded broker, before and after it logs in (every listener). */
      limits: z
        .strictObject({
          /** Largest packet a client may send, judged from its fixed header before the body is read. */
          maxPacketBytes: z
            .number()
            .int()
            .min(1024)
            .max(16 * 1024 * 1024)
            .default(128 * 1024),
          /** CONNECT must arrive (and a TLS handshake finish) within this long of the connection. */
          connectTimeoutSeconds: z.number().min(0.1).max(300).default(10),
          /** Inbound QoS 2 messages a client may leave awaiting PUBREL; one more ends its connection. */
          maxInflightQos2: z.number().int().min(1).max(65_535).default(16),
          /** Packets a client may send after CONNECT, before its CONNACK, held until it is logged in. */
          maxQueuedBeforeLogin: z.number().int().min(1).max(1000).default(16),
          /** Connections not yet logged in from one source address; more are closed at once. */
          maxPendingPerAddress: z.number().int().min(1).max(100_000).default(32),
          /** Connections not yet logged in, from all addresses together. */
          maxPendingTotal: z.number().int().min(1).max(1_000_000).default(1024),
        })
        .prefault({}),
      /** `embedded`: the hub runs aedes. `external`: it subscribes to another broker (which then does device auth/ACL). */
      mode: z.enum(['embedded', 'external']).default('embedded'),
      external: z
        .strictObject({
          url: z
            .string()
            .regex(/^mqtts?:\/\//, 'expected an mqtt:// or mqtts:// URL')
            .default('mqtt://127.0.0.1:1883'),
          /** Fixed, so the broker keeps the hub's session (and its queued messages) across restarts. */
          clientId: z.string().min(1).max(64).default('pdm-hub'),
          username: z.string().min(1).optional(),
          password: z.string().min(1).optional(),
          connectTimeoutMs: z.number().int().min(100).max(120_000).default(10_000),
          /**
           * Connections that share the events (`$share/<clientId>/…/event`): a connection takes its next message only
           * once the last is durable, so events commit together only across connections.
           */
          eventConnections: z.number().int().min(1).max(256).default(16),
        })
        .prefault({}),
    })
    .refine((m) => m.limits.maxPacketBytes >= m.maxPayloadBytes + 1024, {
      message: 'limits.maxPacketBytes must exceed maxPayloadBytes by at least 1024 (topic and header)',
      path: ['limits', 'maxPacketBytes'],
    })
    .prefault({}),
  http: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: port.default(8080),
      /** A login session ends after this long without a request. */
      sessionMinutes: z
        .number()
        .int()
        .min(1)
        .max(7 * 24 * 60)
        .default(480),
      /** ...and after this long from login, however much it is used. */
      sessionMaxHours: z
        .number()
        .min(0.01)
        .max(90 * 24)
        .default(24),
      /** Mark the session cookie Secure (set when a TLS proxy fronts the hub). */
      secureCookies: z.boolean().default(false),
      /** Serve the API and dashboard over HTTPS (the session cookie is then Secure). */
      tls: z.strictObject({ certFile: z.string().min(1), keyFile: z.string().min(1) }).optional(),
      /** Live dashboard streams (GET /api/stream) one user may hold open at once. */
      maxStreamsPerUser: z.number().int().min(1).max(200).default(4),
      /**
       * /metrics names devices, features and drift state: it answers the loopback address, and other addresses only
       * with `Authorization: Bearer <token>`, or everyone when `public`.
       */
      metrics: z
        .strictObject({
          public: z.boolean().default(false),
          token: z.string().min(16, 'expected at least 16 characters').optional(),
        })
        .prefault({}),
    })
    .prefault({}),
  /** Where the hub keeps its state; relative paths are taken from the working directory. */
  dataDir: z.string().default('.pdm-data/hub'),
  /**
   * Failed device and user logins: after `maxFailures` of one account from one address (or `maxFailuresPerAddress` from
   * one address) within `windowSeconds`, refuse that pair (or address) for `lockoutSeconds`.
   */
  auth: z
    .strictObject({
      /** Failures of one account from one address (never of the account alone, which a guesser could use). */
      maxFailures: z.number().int().min(1).max(1000).default(5),
      /** Failures from one address, whatever the accounts. */
      maxFailuresPerAddress: z.number().int().min(1).max(100_000).default(20),
      windowSeconds: z.number().int().min(1).max(86_400).default(60),
      lockoutSeconds: z.number().int().min(1).max(86_400).default(60),
      /** Before the lockout: failures after `afterFailures` answer after `baseMs × 2^k`, at most `maxMs` (0 = off). */
      slowDown: z
        .strictObject({
          afterFailures: z.number().int().min(0).max(1000).default(2),
          baseMs: z.number().int().min(0).max(60_000).default(250),
          maxMs: z.number().int().min(0).max(60_000).default(4000),
        })
        .prefault({}),
      /**
       * scrypt for people's passwords (devices keep N=2^14: docs/security.md). Unset: OWASP's N=2^17, r=8, p=1. A user
       * whose stored hash is cheaper is rehashed at their next successful login.
       */
      passwordScrypt: z
        .strictObject({
          N: z
            .number()
            .int()
            .min(1024)
            .max(2 ** 20)
            .refine((n) => (n & (n - 1)) === 0, 'expected a power of two'),
          r: z.number().int().min(1).max(32).default(8),
          p: z.number().int().min(1).max(16).default(1),
        })
        .optional(),
    })
    .prefault({}),
  routing: z
    .strictObject({
      /** Anomalies for the same asset within this long of the last one join its open inspection (or watch). */
      correlationWindowSeconds: z.number().min(0).max(86_400).default(300),
      default: RoutingPolicySchema.prefault({}),
      /** Per-site overrides of the default policy, e.g. `plant-2: { inspectFrom: critical }`. */
      sites: z.record(id, RoutingPolicySchema.partial()).default({}),
    })
    .prefault({}),
  workflow: z
    .strictObject({
      sla: z
        .strictObject({
          /** An open inspection not acknowledged within this many minutes (by priority) is escalated. */
          ackMinutes: z
            .strictObject({
              P1: z.number().positive().default(15),
              P2: z.number().positive().default(60),
              P3: z.number().positive().default(240),
            })
            .prefault({}),
          /** How often deadlines are checked (node-cron, with seconds). */
          checkCron: z
            .string()
            .refine((expr) => cron.validate(expr), 'expected a cron expression such as "*/10 * * * * *"')
            .default('*/10 * * * * *'),
        })
        .prefault({}),
      /**
       * A machine still in alarm this long after its inspection was resolved gets a follow-up inspection (and a
       * follow_up notification); 0 turns follow-ups off.
       */
      followUpAfterMinutes: z.number().min(0).max(10_080).default(30),
      /** Round-robin pools per site; a site not listed uses every user with the technician role. */
      technicians: z.record(id, z.array(id).min(1)).default({}),
      /** Optional CMMS webhook: every inspection change is POSTed, HMAC-signed, with an idempotency key. */
      cmms: z
        .strictObject({
          url: z.string().regex(/^https?:\/\//, 'expected an https:// URL (http:// only with allowInsecureHttp)'),
          /** Accept an http:// URL (tests, a CMMS on the same host): the signed body then travels in the clear. */
          allowInsecureHttp: z.boolean().default(false),
          secret: z.string().min(16, 'expected at least 16 characters'),
          /** Attempts per notification before it moves to the dead-letter list (a supervisor can retry it from there). */
          maxAttempts: z.number().int().min(1).max(1000).default(10),
          /** Backoff: baseDelayMs * 2^(attempt-1), jittered to 50-100%, capped at maxDelayMs. */
          baseDelayMs: z.number().int().min(1).max(60_000).default(500),
          maxDelayMs: z.number().int().min(1).max(3_600_000).default(300_000),
          timeoutMs: z.number().int().min(100).max(60_000).default(5000),
          /**
           * cluster.mode shared: how often the leader records inspection changes whose process died between commit
           * and record (single mode does it at start only).
           */
          reconcileSeconds: z.number().int().min(1).max(3600).default(30),
        })
        .refine((c) => c.allowInsecureHttp || c.url.startsWith('https://'), {
          message: 'expected an https:// URL; set allowInsecureHttp: true to send the signed body over http://',
          path: ['url'],
        })
        .refine((c) => c.maxDelayMs >= c.baseDelayMs, {
          message: 'maxDelayMs must be at least baseDelayMs',
          path: ['maxDelayMs'],
        })
        .optional(),
    })
    .prefault({}),
  /**
   * Health per machine (healthy, watch, alarm, offline) from the agent's scores, anomaly events and link; the rule is
   * in hub/health/rule.ts and docs/hub.md.
   */
  health: z
    .strictObject({
      /** Nothing heard from an agent for this long: offline. */
      offlineAfterSeconds: z.number().positive().max(86_400).default(60),
      /** The latest scores the rule looks at, and how many of them over the threshold make an alarm. */
      windows: z.number().int().min(1).max(100).default(5),
      alarmWindows: z.number().int().min(1).max(100).default(3),
      /** The latest score at or over this share of the threshold: watch. */
      watchFraction: z.number().positive().max(1).default(0.8),
      /** How often silence is checked for. */
      checkSeconds: z.number().positive().max(3600).default(5),
    })
    .refine((h) => h.alarmWindows <= h.windows, {
      message: 'alarmWindows must be at most windows',
      path: ['alarmWindows'],
    })
    .prefault({}),
  /** Sensor channels as people know them: the unit and name each feature's plain-language text uses. */
  features: z
    .strictObject({
      channels: z
        .record(
          z.string().min(1).max(64),
          z
            .strictObject({
              unit: z.string().max(16).default(''),
              label: z.string().min(1).max(64).optional(),
              /** Velocity RMS in mm/s: also judged by ISO 20816-3's zones for this machine group and foundation. */
              iso20816: z
                .strictObject({
                  group: z.union([z.literal(1), z.literal(2)]),
                  foundation: z.enum(['rigid', 'flexible']),
                })
                .optional(),
            })
            .refine((c) => !c.iso20816 || c.unit === 'mm/s', {
              message: 'an ISO 20816-3 channel must be velocity RMS with unit mm/s',
              path: ['unit'],
            }),
        )
        .default({}),
    })
    .prefault({}),
  /** E-mail and chat notifications of inspections (opened, escalated, overdue, follow-up), subscribed per site. */
  notifications: z
    .strictObject({
      /** The dashboard's address as people reach it, for a link in each message. */
      dashboardUrl: z
        .string()
        .regex(/^https?:\/\//, 'expected an http:// or https:// URL')
        .optional(),
      email: z
        .strictObject({
          host: z.string().min(1),
          port: port.default(587),
          secure: z.boolean().default(false),
          user: z.string().optional(),
          /** Or PDM_HUB_NOTIFICATIONS_EMAIL_PASS. */
          pass: z.string().optional(),
          from: z.string().min(3),
        })
        .optional(),
      /** Incoming webhooks by name: Slack-style `{ text }` or a Teams MessageCard. */
      chat: z
        .record(
          id,
          z.strictObject({
            url: z.string().regex(/^https?:\/\//, 'expected an http:// or https:// URL'),
            format: z.enum(['slack', 'teams']).default('slack'),
          }),
        )
        .default({}),
      subscriptions: z
        .array(
          z.strictObject({
            /** Site ids, or `*` for every site. */
            sites: z
              .array(z.union([id, z.literal('*')]))
              .min(1)
              .default(['*']),
            events: z
              .array(z.enum(NOTIFICATION_KINDS))
              .min(1)
              .default([...NOTIFICATION_KINDS]),
            email: z.array(z.string().regex(/^[^@\s]+@[^@\s]+$/, 'expected an e-mail address')).default([]),
            /** Names from `chat`. */
            chat: z.array(id).default([]),
          }),
        )
        .default([]),
      attempts: z.number().int().min(1).max(20).default(3),
      retryDelayMs: z.number().int().min(1).max(600_000).default(2000),
      timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
    })
    .superRefine((n, ctx) => {
      n.subscriptions.forEach((s, i) => {
        for (const name of s.chat)
          if (!n.chat[name])
            ctx.addIssue({
              code: 'custom',
              message: `no chat webhook named ${name}`,
              path: ['subscriptions', i, 'chat'],
            });
        if (s.email.length > 0 && !n.email)
          ctx.addIssue({
            code: 'custom',
            message: 'e-mail recipients need notifications.email (the SMTP server)',
            path: ['subscriptions', i, 'email'],
          });
      });
    })
    .prefault({}),
  /**
   * Drift: each device's recent telemetry against its model card's training distribution, as a PSI per feature and
   * for the score (below warnPsi stable, from warnPsi a moderate shift, from alarmPsi a significant one).
   */
  drift: z
    .strictObject({
      /** How much recent telemetry is compared (in 12 time buckets, so the window slides in steps of a twelfth). */
      windowMinutes: z
        .number()
        .positive()
        .max(7 * 24 * 60)
        .default(60),
      /**
       * No PSI and no flag before a device has this many messages in the window. PSI of a sample of n from the very
       * training distribution is about (bins - 1) x (1/n + 1/rows) by chance alone: 0.055 at n = 200, 0.03 at 500.
       */
      minSamples: z.number().int().min(10).max(1_000_000).default(500),
      warnPsi: z.number().positive().default(0.1),
      alarmPsi: z.number().positive().default(0.25),
      /** Features per device in the pdm_drift_psi gauge (the largest PSI first), besides the score. */
      metricFeatures: z.number().int().min(0).max(32).default(3),
      /** The shipped model a device runs when several default cards have its version (both start at 1.0.0). */
      defaultModel: id.default('pump-vibration-pca'),
    })
    .refine((d) => d.alarmPsi > d.warnPsi, { message: 'alarmPsi must be greater than warnPsi', path: ['alarmPsi'] })
    .prefault({}),
  registry: z
    .strictObject({
      /** How often running rollouts are checked: canary alarm rates against the fleet, and soak periods that have ended. */
      rolloutCheckSeconds: z.number().min(1).max(3600).default(10),
      /**
       * ONNX operators a model version may use (`Gemm`, or `domain:Op` outside the default domain); anything else is
       * refused at upload. Unset: the default list in models/onnx/operators.ts. Setting it replaces that list.
       */
      allowedOperators: z
        .array(z.string().regex(/^([a-z][a-z0-9_.]*:)?[A-Za-z][A-Za-z0-9_]*$/))
        .min(1)
        .optional(),
      /**
       * The model-signing key (Ed25519 PEM, mode 600). Unset: `<dataDir>/registry/hub-ed25519.key`, made on first start.
       * With cluster.mode shared every hub process must hold the same key, or it refuses to start.
       */
      signingKeyFile: z.string().min(1).optional(),
    })
    .prefault({}),
  rollouts: z
    .strictObject({
      /** 2: a rollout waits ("pending approval") until a supervisor other than the one who started it approves it. */
      approvals: z.union([z.literal(1), z.literal(2)]).default(1),
    })
    .prefault({}),
  store: z
    .strictObject({
      /**
       * Where the state lives: `sqlite` (hub.db in dataDir; the first start imports a file engine's directory),
       * `file` (journal, snapshot and archive files), or `postgres` (a server at `url`).
       */
      engine: z.enum(['file', 'sqlite', 'postgres']).default('sqlite'),
      /** PostgreSQL connection string, e.g. postgres://pdm@db.plant.local/pdm (engine postgres only). */
      url: z.string().min(1).optional(),
      coalesceMs: z.number().int().min(0).max(10_000).default(2),
      /**
       * Dedup entries of events made longer ago are dropped; a replay older than that is checked against the stored inspections and
       * watches.
       */
      dedupRetentionHours: z
        .number()
        .int()
        .min(1)
        .max(24 * 365)
        .default(168),
      /** A journal this big is folded into a new state.json snapshot. */
      snapshotJournalBytes: z
        .number()
        .int()
        .min(64 * 1024)
        .max(1024 * 1024 * 1024)
        .default(16 * 1024 * 1024),
      /** Closed inspections leave memory this long after closing: whole to inspections.archive, a summary stays. */
      archiveClosedAfterMinutes: z
        .number()
        .int()
        .min(0)
        .max(60 * 24 * 365)
        .default(24 * 60),
      /** An open inspection keeps its first and latest events in memory, at most this many; the rest are appended to the archive. */
      eventsInMemory: z.number().int().min(4).max(100_000).default(64),
      /** The archive file is rewritten with only its live records once this many bytes of it, and as many as are live, are dead. */
      archiveCompactBytes: z
        .number()
        .int()
        .min(1024 * 1024)
        .max(1024 * 1024 * 1024 * 1024)
        .default(64 * 1024 * 1024),
    })
    .refine((s) => s.engine !== 'postgres' || s.url !== undefined, {
      message: 'store.url (a postgres:// connection string) is required with store.engine postgres',
      path: ['url'],
    })
    .prefault({}),
  /**
   * Append-only telemetry log (hub/telemetry): NDJSON segments per device under `<dataDir>/telemetry/<site>/<device>/`.
   * A segment is sealed at `segmentBytes` or after `segmentMinutes`; sealed segments older than `retentionDays` are
   * deleted, then the oldest ones until the whole log fits in `maxBytes`. Rows are buffered and appended every
   * `flushMs` (telemetry is not fsynced before the PUBACK: it is not an alarm, and events live in the durable store).
   */
  telemetry: z
    .strictObject({
      enabled: z.boolean().default(true),
      segmentBytes: z
        .number()
        .int()
        .min(4096)
        .max(1024 ** 3)
        .default(8 * 1024 ** 2),
      segmentMinutes: z
        .number()
        .int()
        .min(1)
        .max(7 * 24 * 60)
        .default(24 * 60),
      retentionDays: z.number().positive().max(3650).default(30),
      maxBytes: z
        .number()
        .int()
        .min(64 * 1024)
        .default(2 * 1024 ** 3),
      flushMs: z.number().int().min(10).max(60_000).default(1000),
      /** When retention runs (node-cron, with seconds); it also seals segments of devices that went quiet. */
      retentionCron: z
        .string()
        .refine((expr) => cron.validate(expr), 'expected a cron expression such as "0 */10 * * * *"')
        .default('0 */10 * * * *'),
    })
    .prefault({}),
  /** Training on the hub from logged telemetry and inspection outcomes (hub/training). */
  training: z
    .strictObject({
      /** Fewest normal rows a model is trained on (also at least 5 per feature, whichever is more). */
      minNormalRows: z.number().int().min(10).max(1_000_000).default(200),
      /** Normal rows beyond this are thinned evenly over the time range, bounding memory and fit time. */
      maxRows: z.number().int().min(100).max(2_000_000).default(50_000),
      /** Rows this close to a fault, an unresolved inspection or a watch are not used as normal (decisions are debounced). */
      marginSeconds: z.number().int().min(0).max(86_400).default(120),
      /** Machine kinds for `{ kind }` training: kind -> devices as "site/device" or "site/*". */
      kinds: z
        .record(
          id,
          z
            .array(
              z
                .string()
                .regex(
                  /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\/(\*|[A-Za-z0-9][A-Za-z0-9._-]{0,63})$/,
                  'expected "site/device" or "site/*"',
                ),
            )
            .min(1),
        )
        .default({}),
    })
    .prefault({}),
  /**
   * `single`: this process is the fleet's only hub. `shared`: several hub processes serve one fleet on one PostgreSQL
   * database behind one external broker; the one holding the leader lease runs what must run once (docs/hub.md).
   */
  cluster: z
    .strictObject({
      mode: z.enum(['single', 'shared']).default('single'),
      /** Shared mode: this process's name, unique among the fleet's hubs and kept across its restarts. */
      instance: id.optional(),
    })
    .prefault({}),
  log: LogSchema.prefault({}),
});

// Each issue sits on the key to change and names the other one.
export const HubConfigSchema = HubSections.superRefine((c, ctx) => {
  if (c.cluster.mode !== 'shared') return;
  if (c.store.engine !== 'postgres')
    ctx.addIssue({
      code: 'custom',
      message: `shared needs store.engine postgres (one database for every hub process), not ${c.store.engine}`,
      path: ['cluster', 'mode'],
    });
  if (c.mqtt.mode !== 'external')
    ctx.addIssue({
      code: 'custom',
      message: `shared needs mqtt.mode external (one broker's shared subscriptions), not ${c.mqtt.mode}`,
      path: ['cluster', 'mode'],
    });
  if (c.cluster.instance === undefined)
    ctx.addIssue({
      code: 'custom',
      message:
        "required with cluster.mode shared: a name for this hub process, unique among the fleet's hubs and kept " +
        'across restarts (its event sessions on the external broker are <clientId>-<instance>-e<n>)',
      path: ['cluster', 'instance'],
    });
});
export type HubConfig = z.output<typeof HubConfigSchema>;
