import { ROLES } from '../inspections/roles.js';
import { INSPECTION_STATUSES } from '../inspections/records.js';
import { ACTIONS } from '../inspections/workflow.js';

const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const ok = (description: string, schema: object = { type: 'object' }) => ({ description, ...json(schema) });
const errors = {
  '400': { description: 'Bad request (PDM_ERR_BAD_REQUEST)', ...json(ref('Error')) },
  '401': { description: 'Not logged in (PDM_ERR_AUTH_FAILED)', ...json(ref('Error')) },
  '403': {
    description: 'Role too low (PDM_ERR_FORBIDDEN) or CSRF token missing (PDM_ERR_CSRF)',
    ...json(ref('Error')),
  },
};
const csrf = [{ session: [], csrf: [] }];
const viewer = [{ session: [] }];
const idParam = [{ name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }];

/** The API description served at /api/openapi.json; a test checks that every route is in it and nothing else. */
export const openapi = {
  openapi: '3.1.0',
  info: {
    title: 'edge-pdm hub API',
    version: '1',
    description:
      'Log in with POST /api/login; the session cookie then authenticates, and every POST except login must echo the ' +
      `csrfToken in the x-csrf-token header. Roles, lowest first: ${ROLES.join(', ')}.`,
  },
  /** Outside the session API (devices have no session), so not under `paths`. */
  'x-device-endpoints': {
    '/models/{modelId}/{version}/bundle': {
      get: {
        summary:
          'Model bundle download for agents; no session: the Ed25519-signed manifest (size, SHA-256) protects it',
        responses: { '200': { description: 'The bundle (JSON)' }, '404': { description: 'No such version' } },
      },
    },
  },
  components: {
    securitySchemes: {
      session: { type: 'apiKey', in: 'cookie', name: 'pdm_session' },
      csrf: { type: 'apiKey', in: 'header', name: 'x-csrf-token' },
    },
    schemas: {
      Error: {
        type: 'object',
        required: ['error', 'message'],
        properties: { error: { type: 'string', description: 'PDM_ERR_* code' }, message: { type: 'string' } },
      },
      DriftReport: {
        type: 'object',
        required: ['site', 'device', 'level', 'maxPsi', 'samples', 'model', 'features', 'settings'],
        properties: {
          site: { type: 'string' },
          device: { type: 'string' },
          level: { enum: ['none', 'warn', 'alarm', 'pending', 'unknown'] },
          maxPsi: { type: ['number', 'null'], description: 'Largest PSI over the score and the features' },
          samples: { type: 'integer', description: 'Telemetry messages in the window' },
          model: {
            type: ['object', 'null'],
            properties: {
              modelId: { type: 'string' },
              version: { type: 'string' },
              source: { enum: ['registry', 'default'] },
              trainedOn: { type: 'string', description: "The card's training.source" },
            },
          },
          reason: { type: 'string', description: 'Why there is no PSI yet (pending, unknown)' },
          score: {
            type: ['object', 'null'],
            properties: {
              name: { type: 'string' },
              psi: { type: ['number', 'null'] },
              samples: { type: 'integer' },
              level: { type: 'string' },
            },
          },
          features: {
            type: 'array',
            description: 'Largest PSI first',
            items: {
              type: 'object',
              properties: {
                name: { type: 'string' },
                psi: { type: ['number', 'null'] },
                samples: { type: 'integer' },
                level: { type: 'string' },
              },
            },
          },
          since: { type: 'integer', description: 'When the level last changed (epoch ms)' },
          settings: {
            type: 'object',
            description: 'windowMinutes, minSamples, warnPsi, alarmPsi, the PSI epsilon for empty bins, bins',
          },
        },
      },
      Webhook: {
        type: 'object',
        description: 'One CMMS notification (one audit entry of one inspection); the body itself is not shown',
        properties: {
          key: {
            type: 'string',
            description: 'idempotency key, stable across retries and hub restarts: inspectionId:sequence:action',
          },
          inspectionId: { type: 'string' },
          sequence: { type: 'integer', description: 'position in the audit trail: delivery order per inspection' },
          type: { type: 'string' },
          recordedAt: { type: 'integer' },
          attempts: { type: 'integer' },
          nextAttemptAt: { type: 'integer' },
          lastError: { type: 'string' },
          deadAt: { type: 'integer' },
        },
      },
      Inspection: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          site: { type: 'string' },
          asset: { type: 'string' },
          device: { type: 'string' },
          status: { enum: [...INSPECTION_STATUSES] },
          priority: { enum: ['P1', 'P2', 'P3'] },
          severity: { enum: ['info', 'warning', 'critical'] },
          assignee: { type: 'string' },
          outcome: { type: 'object', properties: { label: { type: 'string' }, note: { type: 'string' } } },
          events: { type: 'array', items: { type: 'object' } },
          comments: { type: 'array', items: { type: 'object' } },
          audit: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                at: { type: 'integer' },
                by: { type: 'string' },
                action: { type: 'string' },
                from: { type: ['string', 'null'] },
                to: { type: 'string' },
              },
            },
          },
        },
      },
    },
  },
  paths: {
    '/healthz': { get: { summary: 'Liveness and MQTT listener', responses: { '200': ok('Up') } } },
    '/metrics': {
      get: {
        summary: 'Prometheus metrics (text format)',
        responses: { '200': { description: 'Metrics', content: { 'text/plain': { schema: { type: 'string' } } } } },
      },
    },
    '/api/openapi.json': { get: { summary: 'This document', responses: { '200': ok('OpenAPI 3.1') } } },
    '/api/login': {
      post: {
        summary: 'Log in; sets the HttpOnly session cookie and returns the CSRF token',
        requestBody: json({
          type: 'object',
          required: ['username', 'password'],
          properties: { username: { type: 'string' }, password: { type: 'string' } },
        }),
        responses: {
          '200': ok('Logged in', {
            type: 'object',
            properties: { user: { type: 'string' }, role: { enum: [...ROLES] }, csrfToken: { type: 'string' } },
          }),
          '401': errors['401'],
          '429': { description: 'Locked out after repeated failures (PDM_ERR_AUTH_LOCKED)' },
        },
      },
    },
    '/api/logout': { post: { summary: 'End the session', security: csrf, responses: { '200': ok('Logged out') } } },
    '/api/me': {
      get: {
        summary: 'Who is logged in',
        security: viewer,
        responses: { '200': ok('The session'), '401': errors['401'] },
      },
    },
    '/api/inspections': {
      get: {
        summary: 'Inspections, newest first',
        security: viewer,
        parameters: ['site', 'device', 'asset', 'status', 'priority', 'assignee'].map((name) => ({
          name,
          in: 'query',
          schema: { type: 'string' },
        })),
        responses: { '200': ok('List', { type: 'array', items: ref('Inspection') }), ...errors },
      },
    },
    '/api/inspections/{id}': {
      get: {
        summary: 'One inspection with events, comments and audit trail',
        security: viewer,
        parameters: idParam,
        responses: { '200': ok('Found', ref('Inspection')), '404': { description: 'No such inspection' } },
      },
    },
    '/api/inspections/{id}/transitions': {
      post: {
        summary: 'Move an inspection through its workflow (technician; assign and escalate: supervisor)',
        security: csrf,
        parameters: idParam,
        requestBody: json({
          type: 'object',
          required: ['action'],
          properties: {
            action: { enum: [...ACTIONS] },
            assignee: { type: 'string', description: 'assign: omit for round-robin' },
            outcome: { type: 'string', description: 'resolve: the fault found (training label)' },
            note: { type: 'string' },
          },
        }),
        responses: {
          '200': ok('The updated inspection', ref('Inspection')),
          ...errors,
          '409': { description: 'Not allowed from the current state (PDM_ERR_TRANSITION)' },
        },
      },
    },
    '/api/inspections/{id}/comments': {
      post: {
        summary: 'Comment (technician)',
        security: csrf,
        parameters: idParam,
        requestBody: json({ type: 'object', required: ['text'], properties: { text: { type: 'string' } } }),
        responses: { '201': ok('The updated inspection', ref('Inspection')), ...errors },
      },
    },
    '/api/watches': {
      get: {
        summary: 'Watch items (anomalies below the inspection threshold)',
        security: viewer,
        parameters: [{ name: 'status', in: 'query', schema: { enum: ['watching', 'cleared', 'promoted'] } }],
        responses: { '200': ok('List', { type: 'array' }) },
      },
    },
    '/api/devices': {
      get: {
        summary: 'Devices with last status, live score and drift { level, maxPsi }',
        security: viewer,
        responses: { '200': ok('List', { type: 'array' }) },
      },
    },
    '/api/devices/{site}/{device}/revoke': {
      post: {
        summary: 'Revoke a device (supervisor); it is disconnected at once',
        security: csrf,
        parameters: ['site', 'device'].map((name) => ({
          name,
          in: 'path',
          required: true,
          schema: { type: 'string' },
        })),
        responses: { '200': ok('Revoked'), ...errors, '404': { description: 'Never provisioned' } },
      },
    },
    '/api/devices/{site}/{device}/commands': {
      post: {
        summary: 'Send a command to a device on its cmd topic, QoS 1 (supervisor)',
        security: csrf,
        parameters: ['site', 'device'].map((name) => ({
          name,
          in: 'path',
          required: true,
          schema: { type: 'string' },
        })),
        requestBody: json({
          type: 'object',
          required: ['command'],
          properties: { command: { enum: ['ping', 'restart-pipeline', 'publish-status'] }, args: { type: 'object' } },
        }),
        responses: { '202': ok('The command as sent'), ...errors },
      },
    },
    '/api/stats': {
      get: { summary: 'Ingest, routing and workflow counters', security: viewer, responses: { '200': ok('Counters') } },
    },
    '/api/devices/{site}/{device}/scores': {
      get: {
        summary: 'Recent anomaly scores and thresholds of one device, downsampled on the server (bucket maxima)',
        security: viewer,
        parameters: [
          ...['site', 'device'].map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })),
          { name: 'points', in: 'query', schema: { type: 'integer', minimum: 10, maximum: 5000 } },
          { name: 'from', in: 'query', schema: { type: 'integer' } },
          { name: 'to', in: 'query', schema: { type: 'integer' } },
        ],
        responses: { '200': ok('{ t: epoch ms[], score: number[], threshold: number[] }') },
      },
    },
    '/api/devices/{site}/{device}/drift': {
      get: {
        summary:
          "Drift of one device: PSI of its recent telemetry (features and score) against its model card's training distribution, " +
          'the flag (none < drift.warnPsi <= warn < drift.alarmPsi <= alarm; pending below drift.minSamples; unknown without a reference) and the model compared with',
        security: viewer,
        parameters: ['site', 'device'].map((name) => ({
          name,
          in: 'path',
          required: true,
          schema: { type: 'string' },
        })),
        responses: {
          '200': ok('The drift report', ref('DriftReport')),
          '401': errors['401'],
          '404': {
            description: 'No telemetry from this device since the hub started (PDM_ERR_NOT_FOUND)',
            ...json(ref('Error')),
          },
        },
      },
    },
    '/api/kpis': {
      get: {
        summary: 'MTTA, MTTR, false-alarm share, alarms per device-week, auto-closed share; per site and per week',
        security: viewer,
        responses: { '200': ok('KPIs') },
      },
    },
    '/api/models': {
      get: {
        summary: 'Registered model versions and which device last applied which',
        security: viewer,
        responses: { '200': ok('{ models, deployed }') },
      },
      post: {
        summary: 'Register a model bundle { schema, card, onnx (base64) }; the hub signs it (supervisor)',
        security: csrf,
        requestBody: json({ type: 'object', required: ['schema', 'card', 'onnx'] }),
        responses: { '201': ok('The registry entry'), ...errors },
      },
    },
    '/api/models/train': {
      get: {
        summary: 'Training jobs, newest first (the last 100, kept in <dataDir>/training-jobs.json across restarts)',
        security: viewer,
        responses: { '200': ok('List', { type: 'array' }) },
      },
      post: {
        summary:
          'Train a PCA T2/Q model from the telemetry log for one device or a machine kind (training.kinds): normal = rows outside every ' +
          'inspection and watch, plus rows inside inspections resolved false_alarm; rows inside inspections resolved with a fault label are ' +
          'not trained on but give the card its detection figures. The model is signed and registered as the next patch version of ' +
          'pca-<site>-<device> or pca-kind-<kind>; roll it out with POST /api/rollouts. Runs as a job: poll GET /api/models/train/{id} (supervisor)',
        security: csrf,
        requestBody: json({
          type: 'object',
          properties: {
            device: { type: 'string', description: 'site/device (give this or kind)' },
            kind: { type: 'string', description: 'a machine kind from the hub config training.kinds' },
            from: { type: 'integer', description: 'device time (epoch ms) of the first row to use' },
            to: { type: 'integer', description: 'device time (epoch ms) of the last row to use' },
          },
        }),
        responses: { '202': ok('The queued job { id, status, target }'), ...errors },
      },
    },
    '/api/models/train/{id}': {
      get: {
        summary:
          'One training job: queued, running, succeeded (result: modelId, version, sha256, signature, summary, metrics, timings) or failed (error: PDM_ERR_TRAINING_DATA when too little normal data or features differ)',
        security: viewer,
        parameters: idParam,
        responses: { '200': ok('The job'), '404': { description: 'No such job' } },
      },
    },
    '/api/models/public-key': {
      get: {
        summary: "The hub's Ed25519 public key (PEM) for the agents' modelSync.publicKeyPem",
        security: viewer,
        responses: { '200': ok('Key') },
      },
    },
    '/api/rollouts': {
      get: {
        summary: 'Rollouts with every step',
        security: viewer,
        responses: { '200': ok('List', { type: 'array' }) },
      },
      post: {
        summary:
          'Start a staged rollout: canaries first, then the rest; rolls back by itself when canaries reject or alarm more (supervisor)',
        security: csrf,
        requestBody: json({
          type: 'object',
          required: ['modelId', 'version', 'canaries'],
          properties: {
            modelId: { type: 'string' },
            version: { type: 'string' },
            canaries: { type: 'array', items: { type: 'string', description: 'site/device' } },
            rest: { type: 'array', items: { type: 'string', description: 'site/device' } },
            policy: {
              type: 'object',
              properties: {
                alarmFactor: { type: 'number' },
                minAlarms: { type: 'integer' },
                soakMs: { type: 'integer' },
              },
            },
          },
        }),
        responses: { '201': ok('The rollout'), ...errors },
      },
    },
    '/api/rollouts/{id}': {
      get: {
        summary: 'One rollout with its steps',
        security: viewer,
        parameters: idParam,
        responses: { '200': ok('Found'), '404': { description: 'No such rollout' } },
      },
    },
    '/api/rollouts/{id}/abort': {
      post: {
        summary: 'Abort a rollout and roll its devices back (supervisor)',
        security: csrf,
        parameters: idParam,
        requestBody: json({ type: 'object', properties: { reason: { type: 'string' } } }),
        responses: { '200': ok('The rollout'), ...errors },
      },
    },
    '/api/webhooks': {
      get: {
        summary:
          'The durable CMMS webhook outbox: notifications pending delivery (with attempts and next try) and dead letters',
        security: viewer,
        responses: {
          '200': ok('{ configured, pending, dead, stats }', {
            type: 'object',
            properties: {
              configured: { type: 'boolean' },
              pending: { type: 'array', items: ref('Webhook') },
              dead: { type: 'array', items: ref('Webhook') },
              stats: { type: 'object' },
            },
          }),
          '401': errors['401'],
        },
      },
    },
    '/api/webhooks/retry': {
      post: {
        summary:
          'Send dead-letter webhooks again with fresh attempts, in their original order: the listed keys, or all (supervisor)',
        security: csrf,
        requestBody: json({
          type: 'object',
          properties: {
            keys: {
              type: 'array',
              items: { type: 'string' },
              description: 'idempotency keys; omit for every dead letter',
            },
          },
        }),
        responses: {
          '200': ok('{ retried: keys[] }'),
          ...errors,
          '404': { description: 'A key is not on the dead-letter list (PDM_ERR_NOT_FOUND); nothing was retried' },
        },
      },
    },
    '/api/stream': {
      get: {
        summary: 'Server-sent events: one line whenever devices, inspections or scores change',
        security: viewer,
        responses: { '200': ok('text/event-stream') },
      },
    },
  },
} as const;
