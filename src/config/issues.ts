/**
 * Turns zod issues into Problems a person can act on: positioned in the YAML, phrased "expected X, got Y",
 * with a hint taken from the schema's own .describe() text (the one editors show too), and for unknown keys the
 * allowed keys and a did-you-mean.
 */
import { z } from 'zod';
import { formatPath, type Locator, type PathSegment, type Problem } from './problems.js';
import { didYouMean } from './suggest.js';

type Issue = z.core.$ZodIssue;
type Schema = z.core.$ZodType;

/** Passed to safeParse: messages for issues whose schema has no message of its own. */
export const defaultMessages: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${typeName(issue.expected)}`;
    case 'too_small':
      if (issue.origin === 'string') return 'expected a non-empty string';
      if (issue.origin === 'array') return `expected at least ${String(issue.minimum)} item(s)`;
      return `expected at least ${String(issue.minimum)}`;
    case 'too_big':
      return `expected at most ${String(issue.maximum)}`;
    case 'invalid_format':
      return issue.format === 'regex' && issue.pattern ? `expected text matching ${issue.pattern}` : `expected ${issue.format}`;
    default:
      return undefined;
  }
};

function typeName(expected: string): string {
  const names: Record<string, string> = {
    string: 'a string',
    number: 'a number',
    int: 'a whole number',
    boolean: 'true or false',
    object: 'a map of key: value',
    array: 'a list',
  };
  return names[expected] ?? expected;
}

/** How a value looks in a message: strings quoted, structures named, not dumped. */
function describeValue(value: unknown): string {
  if (value === null) return 'nothing (null)';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list';
  if (typeof value === 'object') return Object.keys(value).length === 0 ? 'an empty map' : 'a map';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  return String(value);
}

export function problemsFromIssues(issues: readonly Issue[], schema: Schema, loc: Locator): Problem[] {
  return issues.flatMap((issue) => fromIssue(issue, [], schema, loc));
}

function fromIssue(issue: Issue, prefix: PathSegment[], root: Schema, loc: Locator): Problem[] {
  const path = [...prefix, ...(issue.path as PathSegment[])];
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => unknownKey(path, key, root, loc));
    case 'invalid_key':
      // A bad key in a record (env var name, volume name): point at the key, use the key schema's message.
      return [loc.problem(path, withGot(issue.issues[0]?.message ?? issue.message, issue.input), hintFor(path, root), { atKey: true })];
    case 'invalid_union': {
      // zod already reports the inner issues when the value had the right type for one option. Left here: the value
      // fits no option's type (the union's own message says what is expected), or several partly (report the first).
      const partial = issue.errors.find((errors) => !errors.some((e) => e.code === 'invalid_type' && e.path.length === 0));
      // A required key written as a union (a role's cmd) that is absent: missing, like any required key.
      if (!partial && issue.input === undefined) return [loc.problem(path, 'required key is missing', hintFor(path, root))];
      if (partial) return partial.flatMap((inner) => fromIssue(inner, path, root, loc));
      break;
    }
    case 'invalid_type':
      if (issue.input === undefined) {
        return [loc.problem(path, 'required key is missing', hintFor(path, root))];
      }
      break;
  }
  const params = 'params' in issue ? (issue.params as { hint?: string } | undefined) : undefined;
  return [loc.problem(path, withGot(issue.message, issue.input), params?.hint ?? hintFor(path, root))];
}

function withGot(message: string, input: unknown): string {
  return message.startsWith('expected ') && !message.includes(', got ') && input !== undefined ? `${message}, got ${describeValue(input)}` : message;
}

function unknownKey(parent: PathSegment[], key: string, root: Schema, loc: Locator): Problem {
  const allowed = objectKeys(schemaAt(root, parent).schema);
  const suggestion = didYouMean(key, allowed);
  const where = parent.length ? `in ${formatPath(parent)}` : 'at the top level';
  const elsewhere = suggestion ? [] : pathsOfKey(root, key).filter((p) => p !== formatPath(parent));
  const message = `unknown key${suggestion ? `; did you mean ${JSON.stringify(suggestion)}?` : ''}`;
  const hint = [
    suggestion ? `rename it to ${JSON.stringify(suggestion)}` : undefined,
    elsewhere.length ? `${JSON.stringify(key)} belongs under ${orList(elsewhere)}` : undefined,
    `allowed keys ${where}: ${allowed.join(', ')}`,
  ]
    .filter(Boolean)
    .join('; ');
  return loc.problem([...parent, key], message, hint, { atKey: true });
}

const orList = (items: string[]) => (items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`);

/** The innermost .describe() text along the path: the most specific help there is. */
function hintFor(path: readonly PathSegment[], root: Schema): string | undefined {
  return schemaAt(root, path).description;
}

const describedAs = (schema: Schema) => z.globalRegistry.get(schema)?.description;

/** Looks through wrappers (default, optional, pipe...) to the schema that does the checking, noting descriptions. */
function unwrap(schema: Schema, descriptions: string[]): Schema {
  for (;;) {
    const description = describedAs(schema);
    if (description) descriptions.push(description);
    if (
      schema instanceof z.ZodDefault ||
      schema instanceof z.ZodPrefault ||
      schema instanceof z.ZodOptional ||
      schema instanceof z.ZodNullable ||
      schema instanceof z.ZodReadonly ||
      schema instanceof z.ZodCatch
    )
      schema = schema.unwrap();
    else if (schema instanceof z.ZodPipe) schema = schema.in;
    else return schema;
  }
}

function child(schema: Schema, segment: PathSegment, descriptions: string[]): Schema | undefined {
  if (schema instanceof z.ZodObject) return Object.hasOwn(schema.shape, segment) ? schema.shape[String(segment)] : undefined;
  if (schema instanceof z.ZodArray) return schema.element;
  if (schema instanceof z.ZodRecord) return schema.valueType;
  if (schema instanceof z.ZodUnion) {
    // The option that has this key: for hosts, the object form.
    for (const option of schema.options) {
      const seen: string[] = [];
      const found = child(unwrap(option, seen), segment, seen);
      if (found) {
        descriptions.push(...seen);
        return found;
      }
    }
  }
  return undefined;
}

/** The schema at a data path (or its deepest existing ancestor) and the innermost description on the way. */
function schemaAt(root: Schema, path: readonly PathSegment[]): { schema: Schema; description?: string } {
  const descriptions: string[] = [];
  let schema = unwrap(root, descriptions);
  for (const segment of path) {
    const next = child(schema, segment, descriptions);
    if (!next) break;
    schema = unwrap(next, descriptions);
  }
  const description = descriptions[descriptions.length - 1];
  return description ? { schema, description } : { schema };
}

function objectKeys(schema: Schema): string[] {
  const inner = unwrap(schema, []);
  if (inner instanceof z.ZodObject) return Object.keys(inner.shape);
  if (inner instanceof z.ZodUnion) return [...new Set(inner.options.flatMap(objectKeys))];
  return [];
}

/** Where else in the schema a key is allowed, e.g. "port" -> app, healthcheck, proxy. */
function pathsOfKey(root: Schema, key: string): string[] {
  const found: string[] = [];
  const visit = (schema: Schema, at: string) => {
    const inner = unwrap(schema, []);
    if (inner instanceof z.ZodObject) {
      if (key in inner.shape) found.push(at || 'the top level');
      for (const [name, field] of Object.entries<Schema>(inner.shape)) visit(field, at ? `${at}.${name}` : name);
    } else if (inner instanceof z.ZodArray) visit(inner.element, `${at}[n]`);
    else if (inner instanceof z.ZodUnion) for (const option of inner.options) visit(option, at);
  };
  visit(root, '');
  return found;
}
