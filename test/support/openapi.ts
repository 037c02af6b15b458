import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';

/** docs/openapi.yaml, parsed. */
export const SPEC = parse(readFileSync(join(__dirname, '../../docs/openapi.yaml'), 'utf8')) as OpenApi;

interface OpenApi {
  paths: Record<string, Record<string, { responses?: Record<string, Response> }>>;
  components: { schemas: Record<string, unknown>; responses: Record<string, Response> };
}
type Response = { $ref?: string; content?: Record<string, { schema: unknown }> };

// The component schemas under one id, their references rewritten to point there: every
// response schema is then compiled with references into it.
const SCHEMAS_ID = 'https://chat-bridge.test/schemas';
const rewrite = (schema: unknown): unknown =>
  JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', `"${SCHEMAS_ID}#/$defs/`));

const ajv = new Ajv2020({ allErrors: true });
addFormats(ajv);
ajv.addSchema({ $id: SCHEMAS_ID, $defs: rewrite(SPEC.components.schemas) });
const compiled = new Map<string, ValidateFunction>();

/** The spec's path template for a request path: `/api/rooms/x/messages` -> `/api/rooms/{room}/messages`. */
export function templateOf(path: string): string | undefined {
  const bare = path.split('?')[0] ?? '';
  return Object.keys(SPEC.paths).find((template) =>
    new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(bare),
  );
}

function responseOf(template: string, method: string, status: number): Response | undefined {
  const response = SPEC.paths[template]?.[method.toLowerCase()]?.responses?.[String(status)];
  if (response?.$ref === undefined) return response;
  return SPEC.components.responses[response.$ref.split('/').pop() ?? ''];
}

/**
 * Problems with a real answer according to docs/openapi.yaml: none when the spec lists
 * this status for this route and the body matches its schema. A path outside the spec
 * (unknown under /api/), or a method the spec does not list (405), must answer the
 * Error schema.
 */
export function specProblems(path: string, method: string, status: number, body: unknown): string[] {
  const template = templateOf(path);
  let schema: unknown = { $ref: `${SCHEMAS_ID}#/$defs/Error` };
  const operation = template === undefined ? undefined : SPEC.paths[template]?.[method.toLowerCase()];
  if (template !== undefined && operation === undefined && status !== 405) return [`${method} ${template} answered ${status}, not 405`];
  if (template !== undefined && operation !== undefined) {
    const response = responseOf(template, method, status);
    if (response === undefined) return [`docs/openapi.yaml has no ${status} for ${method} ${template}`];
    schema = rewrite(response.content?.['application/json']?.schema);
  }
  const key = JSON.stringify(schema);
  let validate = compiled.get(key);
  if (validate === undefined) {
    validate = ajv.compile(schema as object);
    compiled.set(key, validate);
  }
  if (validate(body)) return [];
  return (validate.errors ?? []).map((e) => `${method} ${path} ${status}: ${e.instancePath} ${e.message ?? ''}`);
}
