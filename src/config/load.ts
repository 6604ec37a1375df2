/**
 * Reading boxship.yml: YAML (with positions) -> zod schema -> Config. Any problem at any stage is an InputError
 * (a ConfigError listing every problem with file:line:column), thrown before anything touches a host.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import { errorMessage, InputError } from '../util/errors.js';
import { toConfig } from './convert.js';
import { defaultMessages, problemsFromIssues } from './issues.js';
import { ConfigError, Locator, type Problem } from './problems.js';
import { rawConfigSchema } from './schema.js';
import type { Config } from './types.js';

const YAML_HINT =
  'boxship.yml must be valid YAML: indent with spaces, not tabs; put a space after ":" and "-"; ' +
  'quote values that contain ": " or " #" or start with one of * & ! | > { [ % @ `';

/** Reads and validates a config file. `file` is used as given in messages, so they match what the user typed. */
export function loadConfig(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new InputError(missing ? `${file}: config file not found (${path.resolve(file)})` : `${file}: cannot read: ${errorMessage(err)}`, {
      hint: missing ? "create it; see README 'Configuration'" : 'check the path and its permissions',
      cause: err,
    });
  }
  return parseConfig(text, file);
}

/** Validates config text; `file` names it in messages, and relative paths in it are resolved against its folder. */
export function parseConfig(text: string, file: string): Config {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((err): Problem => {
        const { line, col } = lineCounter.linePos(err.pos[0]);
        return { file, line, column: col, path: '', message: `invalid YAML: ${err.message}`, hint: YAML_HINT };
      }),
    );
  }

  const loc = new Locator(doc, lineCounter, file);
  let data: unknown;
  try {
    data = doc.toJS();
  } catch (err) {
    // Only an alias bomb (an alias used too often) gets here; the YAML itself parsed.
    throw new ConfigError([{ file, line: 1, column: 1, path: '', message: `invalid YAML: ${errorMessage(err)}`, hint: YAML_HINT }]);
  }
  if (data === null || data === undefined) {
    throw new ConfigError([
      { file, line: 1, column: 1, path: '', message: 'the file is empty', hint: "start with service: and hosts:; see README 'Configuration'" },
    ]);
  }
  keepTextAsWritten(doc, data, ['app', 'env']);
  keepTextAsWritten(doc, data, ['build', 'args']);
  const accessories = (data as { accessories?: unknown }).accessories;
  if (typeof accessories === 'object' && accessories !== null) {
    for (const name of Object.keys(accessories)) keepTextAsWritten(doc, data, ['accessories', name, 'env']);
  }

  const result = rawConfigSchema.safeParse(data, { reportInput: true, error: defaultMessages });
  if (!result.success) throw new ConfigError(problemsFromIssues(result.error.issues, rawConfigSchema, loc));

  const absolute = path.resolve(file);
  const { config, problems } = toConfig(result.data, { file: absolute, displayFile: file, loc });
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/**
 * Env values and build args are strings to docker, but YAML reads `VERSION: 1.10` as the number 1.1 and
 * `DEBUG: True` as true. Put back the text as written, so what reaches the container is what the file says.
 */
function keepTextAsWritten(doc: Document, data: unknown, at: string[]): void {
  const node = doc.getIn(at, true);
  let target: unknown = data;
  for (const key of at) target = typeof target === 'object' && target !== null ? (target as Record<string, unknown>)[key] : undefined;
  if (!isMap(node) || typeof target !== 'object' || target === null) return;
  for (const pair of node.items) {
    const { key, value } = pair;
    if (isScalar(key) && isScalar(value) && (typeof value.value === 'number' || typeof value.value === 'boolean') && value.source !== undefined) {
      (target as Record<string, unknown>)[String(key.value)] = value.source;
    }
  }
}
