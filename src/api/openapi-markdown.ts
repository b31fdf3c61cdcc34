/**
 * The API reference (`docs/api.md`) written from the OpenAPI document, so that the routes,
 * their parameters and every answer are described once: in the routes' own schemas.
 */

interface Schema {
  type?: string | string[];
  description?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  const?: unknown;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  additionalProperties?: boolean | Schema;
  format?: string;
  nullable?: boolean;
}
interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  description?: string;
  schema?: Schema;
}
interface Operation {
  description?: string;
  summary?: string;
  security?: Record<string, unknown>[];
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, { schema?: Schema }>; required?: boolean };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: Schema }> }>;
}
export interface OpenApiDocument {
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  components?: { securitySchemes?: Record<string, { description?: string }> };
}

/** Sections of the reference, by the first path prefix that matches. */
const SECTIONS: readonly (readonly [title: string, prefix: string])[] = [
  ['Store webhooks', '/v1/webhooks/'],
  ['Customers and scoped tokens', '/v1/customers'],
  ['Premium content and likes', '/v1/content'],
  ['Client configuration', '/v1/clients'],
  ['Support and administration (admin API key)', '/v1/admin/'],
  ['The service', '/'],
];
const METHODS = ['get', 'put', 'post', 'patch', 'delete'];
/** What fastify-swagger says of a response its schema does not describe. */
const FASTIFY_PLACEHOLDER = 'Default Response';
/** How the shared problem schema describes itself: nothing to add per route. */
const GENERIC_PROBLEM = 'RFC 9457 problem details';
/** How deep object properties are listed; deeper ones are named as objects only. */
const MAX_DEPTH = 3;

export function openApiMarkdown(document: OpenApiDocument): string {
  const out: string[] = [
    '# API reference',
    '',
    `<!-- Written by \`npm run docs:api\` from ${document.info.title}'s OpenAPI document (GET /openapi.json). Do not edit: edit the routes' schemas. -->`,
    '',
    `${document.info.title} ${document.info.version}. Refusals are problem documents (\`application/problem+json\`) with a`,
    'stable `code`; [HTTP](http.md) explains them, authentication, caching and idempotency. The',
    'same document is served at `/openapi.json` and browsable at `/docs`.',
    '',
  ];
  const operations = Object.entries(document.paths)
    .flatMap(([path, byMethod]) =>
      METHODS.filter((m) => byMethod[m]).map((method) => ({ path, method, operation: byMethod[method]! })),
    )
    .sort((a, b) => a.path.localeCompare(b.path) || METHODS.indexOf(a.method) - METHODS.indexOf(b.method));
  const sectionOf = (path: string) => SECTIONS.find(([, prefix]) => path.startsWith(prefix))![0];
  for (const [title] of SECTIONS) {
    const inSection = operations.filter((o) => sectionOf(o.path) === title);
    if (inSection.length === 0) continue;
    out.push(`## ${title}`, '');
    for (const { path, method, operation } of inSection)
      out.push(...operationMarkdown(method, path, operation, document));
  }
  return `${out.join('\n').trimEnd()}\n`;
}

function operationMarkdown(method: string, path: string, operation: Operation, document: OpenApiDocument): string[] {
  const out = [`### \`${method.toUpperCase()} ${path}\``, ''];
  const description = operation.description ?? operation.summary;
  if (description) out.push(oneLine(description), '');
  out.push(`**Credential:** ${credentialOf(operation, document)}`, '');
  const parameters = operation.parameters ?? [];
  if (parameters.length > 0) {
    out.push('| parameter | in | type | |', '| --- | --- | --- | --- |');
    for (const p of parameters) {
      const note = [p.required ? 'required' : 'optional', p.description ?? p.schema?.description]
        .filter(Boolean)
        .join('; ');
      out.push(`| \`${p.name}\` | ${p.in} | ${cell(typeOf(p.schema ?? {}))} | ${cell(note)} |`);
    }
    out.push('');
  }
  const body = operation.requestBody?.content;
  if (body) {
    for (const [mediaType, { schema }] of Object.entries(body)) {
      out.push(`**Body** (\`${mediaType}\`): ${typeOf(schema ?? {})}`, ...propertiesOf(schema ?? {}, 0), '');
    }
  }
  out.push('**Answers:**', '');
  const refusals: string[] = [];
  for (const [status, response] of Object.entries(operation.responses ?? {})) {
    const content = Object.entries(response.content ?? {});
    const problem = content.some(([mediaType]) => mediaType === 'application/problem+json');
    const described = oneLine(response.description ?? '');
    if (described.startsWith(GENERIC_PROBLEM) || (problem && described === '')) {
      refusals.push(status);
      continue;
    }
    const schema = !problem && Number(status) < 300 ? content[0]?.[1].schema : undefined;
    const what = described === FASTIFY_PLACEHOLDER ? '' : described;
    out.push(`- **${status}**${what ? ` ${what}` : ''}${problem ? ' (a problem document)' : ''}`);
    if (schema) out.push(...propertiesOf(schema, 1));
  }
  if (refusals.length > 0) out.push(`- ${refusals.map((s) => `**${s}**`).join(', ')}: refusals, as problem documents`);
  out.push('');
  return out;
}

function credentialOf(operation: Operation, document: OpenApiDocument): string {
  const schemes = (operation.security ?? []).flatMap((requirement) => Object.keys(requirement));
  if (schemes.length === 0) return 'none';
  const describe = (name: string) => document.components?.securitySchemes?.[name]?.description ?? name;
  return schemes.map((name) => `\`Authorization: Bearer\`: ${oneLine(describe(name))}`).join('; or ');
}

/** A property list, indented under a bullet at `depth`. */
function propertiesOf(schema: Schema, depth: number): string[] {
  const object = objectOf(schema);
  if (!object?.properties || depth > MAX_DEPTH) return [];
  const indent = '  '.repeat(depth);
  const required = new Set(object.required ?? []);
  return Object.entries(object.properties).flatMap(([name, property]) => {
    const note = [typeOf(property), required.has(name) ? '' : 'optional', oneLine(property.description ?? '')]
      .filter(Boolean)
      .join(', ');
    const values = recordValuesOf(property);
    if (values) {
      return [`${indent}- \`${name}\`: ${note}; each value:`, ...propertiesOf(values, depth + 1)];
    }
    return [`${indent}- \`${name}\`: ${note}`, ...propertiesOf(property, depth + 1)];
  });
}

/** The schema of a record's values (an object keyed by ids), when it describes objects. */
function recordValuesOf(schema: Schema): Schema | undefined {
  const values = schema.additionalProperties;
  return typeof values === 'object' && !schema.properties && objectOf(values) ? values : undefined;
}

/** The object a schema describes, through arrays and nullable unions. */
function objectOf(schema: Schema): Schema | undefined {
  if (schema.properties) return schema;
  if (schema.items) return objectOf(schema.items);
  const variants = (schema.anyOf ?? schema.oneOf ?? schema.allOf ?? []).filter((s) => s.type !== 'null');
  return variants.length === 1 ? objectOf(variants[0]!) : undefined;
}

function typeOf(schema: Schema): string {
  if (schema.const !== undefined) return `\`${JSON.stringify(schema.const)}\``;
  if (schema.enum) return schema.enum.map((v) => `\`${JSON.stringify(v)}\``).join(' \\| ');
  const variants = schema.anyOf ?? schema.oneOf;
  if (variants) return [...new Set(variants.map(typeOf))].join(' or ');
  if (schema.allOf?.length === 1) return typeOf(schema.allOf[0]!);
  const types = (Array.isArray(schema.type) ? schema.type : [schema.type ?? 'any']).map((type) => {
    if (type === 'array') return `array of ${typeOf(schema.items ?? {})}`;
    if (type === 'string' && schema.format) return `string (${schema.format})`;
    return type;
  });
  return `${types.join(' or ')}${schema.nullable ? ' or null' : ''}`;
}

const oneLine = (text: string) => text.replace(/\s+/g, ' ').trim();
const cell = (text: string) => text.replaceAll('|', '\\|');
