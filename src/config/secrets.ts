/**
 * The secrets file: local `KEY=VALUE` lines whose values reach the app as environment variables. Messages about it
 * name the secrets file's own lines and never echo a line's text, since that text may be a secret.
 */
import { readFileSync } from 'node:fs';
import { errorMessage, InputError } from '../util/errors.js';
import { addSecrets } from '../util/redact.js';
import { ConfigError, type Problem } from './problems.js';

const KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SECRETS_HINT =
  'write one KEY=VALUE per line (KEY: letters, digits and _, not starting with a digit; the value is everything after ' +
  'the first =, taken as is, without quotes); blank lines and lines starting with # are ignored';

export function parseSecrets(text: string, file: string): { values: Record<string, string>; problems: Problem[] } {
  const values: Record<string, string> = {};
  const problems: Problem[] = [];
  const lineOf: Record<string, number> = {};
  const problem = (line: number, message: string) => problems.push({ file, line, column: 1, path: '', message, hint: SECRETS_HINT });
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    const content = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (content.trim() === '' || content.trimStart().startsWith('#')) return;
    const eq = content.indexOf('=');
    if (eq === -1) return problem(line, 'expected KEY=VALUE, got a line without "="');
    const key = content.slice(0, eq);
    if (!KEY_RE.test(key)) return problem(line, `expected KEY=VALUE with KEY made of letters, digits and _, got key ${JSON.stringify(key.slice(0, 40))}`);
    if (key in values) return problem(line, `${key} is set twice (first on line ${lineOf[key]})`);
    // A NUL cannot travel in an environment variable; a lone CR would end the line in the env file on the host.
    if (/[\0\r]/.test(content)) return problem(line, `the value of ${key} contains a NUL or carriage return character`);
    values[key] = content.slice(eq + 1);
    lineOf[key] = line;
  });
  return { values, problems };
}

/**
 * For the deploy step: the values of a secrets file, or an InputError naming the file (and line). The values are
 * remembered for redaction from here on, so no output of this process can print them.
 */
export function readSecretsFile(path: string, displayName = path): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new InputError(`${displayName}: cannot read the secrets file: ${errorMessage(err)}`, {
      hint: 'check app.secrets_file in boxship.yml',
      cause: err,
    });
  }
  const { values, problems } = parseSecrets(text, displayName);
  if (problems.length > 0) throw new ConfigError(problems);
  addSecrets(Object.values(values));
  return values;
}
