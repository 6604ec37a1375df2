/**
 * Secret values (app.secrets_file) never leave the process in clear text. Once loaded they are held here, and every
 * text that is printed, traced, thrown or written to a host's audit log goes through `redact`, which replaces each
 * value, and the encodings an app or a tool is likely to print it in, with `***`. Only the secret is masked: the line
 * around it (an app's own error, say) stays readable, so the user still sees why something failed.
 *
 * Applied at a few choke points rather than at every print: process stdout/stderr (all CLI output, listr2, commander,
 * debug traces), the BoxshipError constructor and errorMessage (so an error is clean wherever it travels, including
 * into the audit log), the audit entry, and the debug line.
 */
import type { Writable } from 'node:stream';

const MASK = '***';

/**
 * Values shorter than this are not masked: a secret of 1 to 3 characters ("1", "yes", "dev") would also match
 * everyday words, numbers and parts of ids, and masking all of those would mangle every line of output. Such a value
 * is no real secret anyway.
 */
const MIN_SECRET_LENGTH = 4;

const forms = new Set<string>();
let pattern: RegExp | undefined;

/** The spellings of one value an app, a driver or a log line might use. */
function spellings(value: string): string[] {
  const out = [value, encodeURIComponent(value), encodeURI(value), JSON.stringify(value).slice(1, -1), Buffer.from(value).toString('base64')];
  // Form encoding: spaces as '+'.
  out.push(encodeURIComponent(value).replace(/%20/g, '+'));
  // A connection string's password is a secret on its own: drivers and apps often print it apart from the URL.
  const password = urlPassword(value);
  if (password !== undefined && password.length >= MIN_SECRET_LENGTH) out.push(...spellings(password));
  return out;
}

function urlPassword(value: string): string | undefined {
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/@]*:[^/@]*@/.test(value)) return undefined;
  try {
    const raw = new URL(value).password;
    return raw ? decodeURIComponent(raw) : undefined;
  } catch {
    return undefined;
  }
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Remembers secret values: from now on they are masked in everything `redact` sees. */
export function addSecrets(values: Iterable<string>): void {
  for (const value of values) {
    if (value.length < MIN_SECRET_LENGTH) continue;
    for (const s of spellings(value)) if (s.length >= MIN_SECRET_LENGTH) forms.add(s);
  }
  // Longest first, so a value that contains another secret is masked whole rather than leaving its remainder.
  const sorted = [...forms].sort((a, b) => b.length - a.length);
  pattern = sorted.length ? new RegExp(sorted.map(escapeRegExp).join('|'), 'g') : undefined;
}

/** Forgets every secret (for tests). */
export function clearSecrets(): void {
  forms.clear();
  pattern = undefined;
}

/** The text with every known secret value (and its usual encodings) replaced by `***`. */
export function redact(text: string): string {
  return pattern ? text.replace(pattern, MASK) : text;
}

/**
 * Routes everything written to `stream` through `redact`: the one net under all output, including what listr2 and
 * commander write themselves. Each write is masked on its own, so a secret split across two writes would pass; every
 * writer in boxship writes whole lines or frames. Install it before anything captures `stream.write` (listr2 keeps
 * the method it finds when a list is created).
 */
export function redactStream(stream: Writable): void {
  const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
  const guarded = (chunk: unknown, ...rest: unknown[]): boolean => write(redactChunk(chunk, rest[0]), ...rest);
  stream.write = guarded as Writable['write'];
}

function redactChunk(chunk: unknown, encoding: unknown): unknown {
  if (!pattern) return chunk;
  if (typeof chunk === 'string')
    return encoding === undefined || typeof encoding === 'function' || encoding === 'utf8' || encoding === 'utf-8' ? redact(chunk) : chunk;
  if (chunk instanceof Uint8Array) {
    const text = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('utf8');
    const masked = redact(text);
    return masked === text ? chunk : Buffer.from(masked);
  }
  return chunk;
}
