// JSON Schemas for the response bodies of Logto's user routes, made at run time from the OpenAPI types Logto
// publishes in `@logto/api` (lib/generated-types/management.d.ts, openapi-typescript output), so a response can be
// checked against Logto's own contract rather than against what this repository believes it to be.
//
// ts-json-schema-generator cannot walk `operations[...]` itself: `operations` refers to `components`, which holds
// `responses: never`, and the generator turns any object with a required `never` member into `never`, so the whole
// chain collapses. So the response body's type literal is cut out of the declaration file with TypeScript's parser
// (operations → <operationId> → responses → <status> → content → application/json), written as an exported alias
// into a temporary .ts file, and that file is handed to the generator. Everything is local: no network.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import Ajv from 'ajv';
import { createGenerator } from 'ts-json-schema-generator';
import ts from 'typescript';

// The package's `exports` map exposes only `./management`, so the declaration file is read by its path.
const declarationFile = fileURLToPath(
  new URL('./node_modules/@logto/api/lib/generated-types/management.d.ts', import.meta.url)
);

const memberName = (name) =>
  ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isNumericLiteral(name) ? name.text : undefined;

const member = (members, name, trail) => {
  const found = members.find((node) => ts.isPropertySignature(node) && memberName(node.name) === name);
  if (!found?.type) {
    throw new Error(`${declarationFile}: no member ${[...trail, name].join(' → ')}`);
  }
  return found.type;
};

/** The source text of `operations[operationId].responses[status].content['application/json']`. */
const responseBodyText = (source, operationId, status) => {
  const operations = source.statements.find(
    (statement) => ts.isInterfaceDeclaration(statement) && statement.name.text === 'operations'
  );
  if (!operations) {
    throw new Error(`${declarationFile}: no \`operations\` interface`);
  }
  const trail = ['operations'];
  let node = member(operations.members, operationId, trail);
  for (const name of ['responses', String(status), 'content', 'application/json']) {
    trail.push(name);
    if (!ts.isTypeLiteralNode(node)) {
      throw new Error(`${declarationFile}: ${trail.join(' → ')} is not a type literal`);
    }
    node = member(node.members, name, trail.slice(0, -1));
  }
  const text = node.getText(source);
  // Every user route's body is written out in full; a reference would need `components` too.
  if (/\bcomponents\s*\[/.test(text)) {
    throw new Error(`operations.${operationId}.responses.${status} refers to \`components\`; not supported here`);
  }
  return text;
};

/** The response bodies checked, by the name their schema gets: [operationId, status]. */
export const responses = {
  CreateUser: ['CreateUser', 200],
  GetUser: ['GetUser', 200],
  ListUsers: ['ListUsers', 200],
  UpdateUser: ['UpdateUser', 200],
  ListUserCustomData: ['ListUserCustomData', 200],
  UpdateUserCustomData: ['UpdateUserCustomData', 200],
  UpdateUserProfile: ['UpdateUserProfile', 200],
  ListUserLogtoConfigs: ['ListUserLogtoConfigs', 200],
  UpdateUserLogtoConfigs: ['UpdateUserLogtoConfigs', 200],
  UpdateUserPassword: ['UpdateUserPassword', 200],
  GetUserHasPassword: ['GetUserHasPassword', 200],
  UpdateUserIsSuspended: ['UpdateUserIsSuspended', 200],
  ListUserMfaVerifications: ['ListUserMfaVerifications', 200],
  CreateUserMfaVerification: ['CreateUserMfaVerification', 200],
};

const generateSchemas = () => {
  const source = ts.createSourceFile(
    declarationFile,
    readFileSync(declarationFile, 'utf8'),
    ts.ScriptTarget.Latest,
    true
  );
  const aliases = Object.entries(responses)
    .map(([name, [operationId, status]]) => `export type ${name} = ${responseBodyText(source, operationId, status)};`)
    .join('\n\n');
  const directory = mkdtempSync(join(tmpdir(), 'logto-response-types-'));
  try {
    const path = join(directory, 'responses.ts');
    writeFileSync(path, `${aliases}\n`);
    // additionalProperties: false (the default, spelled out) closes every object type that has no index signature,
    // as TypeScript's own object literal check does: an extra key fails validation.
    const generator = createGenerator({
      path,
      skipTypeCheck: true,
      expose: 'none',
      topRef: false,
      jsDoc: 'none',
      additionalProperties: false,
    });
    return Object.fromEntries(Object.keys(responses).map((name) => [name, generator.createSchema(name)]));
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
};

export const schemas = generateSchemas();

const ajv = new Ajv({ allErrors: true, strict: true });
const validators = Object.fromEntries(Object.entries(schemas).map(([name, schema]) => [name, ajv.compile(schema)]));

/**
 * The problems of `body` against Logto's schema `name` (empty when it conforms): Ajv's errors, plus, for an object
 * schema, every key outside its `properties` and every `required` key missing, named plainly (Ajv reports the same,
 * less readably; an object schema with an index signature has no closed key set and is not checked this way).
 */
export const violations = (name, body) => {
  const validate = validators[name];
  if (!validate) {
    throw new Error(`no schema named ${name}`);
  }
  const problems = [];
  const schema = schemas[name];
  if (schema.type === 'object' && schema.additionalProperties === false && body && typeof body === 'object') {
    const known = new Set(Object.keys(schema.properties ?? {}));
    for (const key of Object.keys(body)) {
      if (!known.has(key)) {
        problems.push(`extra key "${key}" (not in Logto's schema)`);
      }
    }
    for (const key of schema.required ?? []) {
      if (!(key in body)) {
        problems.push(`missing required key "${key}"`);
      }
    }
  }
  if (!validate(body)) {
    for (const error of validate.errors) {
      problems.push(`${error.instancePath || '(body)'} ${error.message} ${JSON.stringify(error.params)}`);
    }
  }
  return problems;
};
