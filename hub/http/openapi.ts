import { z } from 'zod';
import { ERROR_CATALOG, type ErrorCode } from '../../protocol/errors.js';
import { ROLES } from '../inspections/roles.js';
import { ModelListSchema, RegistryEntrySchema, RolloutStateSchema } from '../registry/schemas.js';
import { TrainingJobSchema } from '../training/schemas.js';
import { api, PATH_PARAMS, type Answer, type Operation } from './contract.js';
import {
  DeviceViewSchema,
  DriftReportSchema,
  ErrorSchema,
  InspectionListItemSchema,
  InspectionSchema,
  InspectionViewSchema,
  KpisSchema,
  LiveMessageSchema,
  SessionSchema,
  WatchSchema,
  WebhooksSchema,
} from './schemas.js';

/** Schemas several operations share: named components, referenced where they occur. */
const SHARED: Record<string, z.ZodType> = {
  Error: ErrorSchema,
  Session: SessionSchema,
  Inspection: InspectionSchema,
  InspectionListItem: InspectionListItemSchema,
  InspectionView: InspectionViewSchema,
  Watch: WatchSchema,
  Device: DeviceViewSchema,
  DriftReport: DriftReportSchema,
  Kpis: KpisSchema,
  LiveMessage: LiveMessageSchema,
  Webhooks: WebhooksSchema,
  TrainingJob: TrainingJobSchema,
  RegistryEntry: RegistryEntrySchema,
  ModelList: ModelListSchema,
  Rollout: RolloutStateSchema,
};

const capitalised = (name: string): string => name[0]!.toUpperCase() + name.slice(1);
const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });
const json = (schema: object) => ({ 'application/json': { schema } });

/** Every schema as a component: the shared ones by name, the rest by operation (`TransitionRequest`, ...). */
function components(): { schemas: Record<string, object>; idOf: Map<z.ZodType, string> } {
  const requests = z.registry<{ id: string }>();
  const answers = z.registry<{ id: string }>();
  const idOf = new Map<z.ZodType, string>();
  const name = (registry: typeof answers, schema: z.ZodType, id: string) => {
    if (idOf.has(schema)) return;
    idOf.set(schema, id);
    registry.add(schema, { id });
  };
  for (const [id, schema] of Object.entries(SHARED)) name(answers, schema, id);
  for (const [opName, o] of Object.entries(api) as Array<[string, Operation]>) {
    if (o.body) name(requests, o.body, `${capitalised(opName)}Request`);
    for (const answer of Object.values(o.responses)) {
      if (answer instanceof z.ZodType) name(answers, answer, `${capitalised(opName)}Response`);
    }
  }
  const uri = (id: string) => `#/components/schemas/${id}`;
  const strip = ({ $schema: _s, $id: _i, ...rest }: Record<string, unknown>) => rest;
  const convert = (registry: typeof answers, io: 'input' | 'output') =>
    Object.fromEntries(Object.entries(z.toJSONSchema(registry, { uri, io }).schemas).map(([id, s]) => [id, strip(s)]));
  return { schemas: { ...convert(answers, 'output'), ...convert(requests, 'input') }, idOf };
}

/** The error answers of an operation, by status: the router's (login, role, CSRF, bad input) and its own. */
function errorsOf(o: Operation): Record<string, object> {
  const codes: ErrorCode[] = [...(o.errors ?? [])];
  if (o.role) codes.push('PDM_ERR_AUTH_FAILED', 'PDM_ERR_FORBIDDEN');
  if (o.role && o.method === 'POST') codes.push('PDM_ERR_CSRF');
  if (o.body || o.query) codes.push(o.invalid ?? 'PDM_ERR_BAD_REQUEST');
  const byStatus = new Map<number, Set<ErrorCode>>();
  for (const code of codes) {
    const status = ERROR_CATALOG[code].status;
    byStatus.set(status, (byStatus.get(status) ?? new Set()).add(code));
  }
  return Object.fromEntries(
    [...byStatus].map(([status, set]) => [
      String(status),
      { description: [...set].join(' or '), content: json(ref('Error')) },
    ]),
  );
}

function parametersOf(o: Operation): object[] {
  const path = [...o.path.matchAll(/\{(\w+)\}/g)].map(([, name]) => ({
    name,
    in: 'path',
    required: true,
    schema: { type: 'string', pattern: `^${PATH_PARAMS[name as keyof typeof PATH_PARAMS].source}$` },
  }));
  const shape = o.query ? (o.query as z.ZodObject).shape : {};
  const query = Object.entries(shape).map(([name, schema]) => {
    const { $schema: _s, ...converted } = z.toJSONSchema(schema as z.ZodType, { io: 'input' });
    return { name, in: 'query', required: !(schema as z.ZodType).safeParse(undefined).success, schema: converted };
  });
  return [...path, ...query];
}

function answerOf(answer: Answer, id: string | undefined, description: string): object {
  if (answer instanceof z.ZodType) return { description, content: json(ref(id!)) };
  return { description: answer.description, content: { [answer.contentType]: { schema: { type: 'string' } } } };
}

function build() {
  const { schemas, idOf } = components();
  const paths: Record<string, Record<string, object>> = {};
  for (const [name, o] of Object.entries(api) as Array<[string, Operation]>) {
    const parameters = parametersOf(o);
    const answers = Object.fromEntries(
      Object.entries(o.responses).map(([status, answer]) => [
        status,
        answerOf(answer, answer instanceof z.ZodType ? idOf.get(answer) : undefined, o.summary),
      ]),
    );
    (paths[o.path] ??= {})[o.method.toLowerCase()] = {
      operationId: name,
      summary: o.summary,
      ...(o.role ? { security: [o.method === 'POST' ? { session: [], csrf: [] } : { session: [] }] } : {}),
      ...(o.role ? { 'x-role': o.role } : {}),
      ...(parameters.length ? { parameters } : {}),
      ...(o.body ? { requestBody: { required: true, content: json(ref(idOf.get(o.body)!)) } } : {}),
      responses: { ...answers, ...errorsOf(o) },
      // An event stream's messages: OpenAPI 3.1 has no field for them.
      ...(o.events ? { 'x-events': ref(idOf.get(o.events)!) } : {}),
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'edge-pdm hub API',
      version: '1',
      description:
        'Log in with POST /api/login; the session cookie then authenticates, and every POST except login must echo ' +
        `the csrfToken in the x-csrf-token header. Roles, lowest first: ${ROLES.join(', ')}. Errors answer ` +
        '{ error: PDM_ERR_*, message } (docs/errors.md).',
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
      schemas,
    },
    paths,
  };
}

/** The API description served at /api/openapi.json, generated from the operations' schemas (http/contract.ts). */
export const openapi = build();
