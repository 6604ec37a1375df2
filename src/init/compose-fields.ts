/**
 * The fields of a compose file that `boxship init` maps, each read in every form compose accepts (short and long
 * syntax, list and map), and compose's own `${VAR}` interpolation from the folder's .env. Pure: values in, values out.
 */
import { healthcheckUrl } from './detect.js';

/** Names whose values are secrets (*_KEY, *_SECRET, *PASSWORD*, *TOKEN*), and URLs that carry a password. */
export function looksSecret(name: string, value: string | undefined): boolean {
  return /SECRET|PASSWORD|PASSWD|TOKEN|(^|_)KEY$/i.test(name) || /^[a-z][a-z0-9+.-]*:\/\/[^/@\s:]*:[^/@\s]+@/i.test(value ?? '');
}

/** "8000", "8000:8000", "127.0.0.1:8080:8000/tcp", "8000-8001", 8000, { target: 8000 }: the container port. */
export function containerPort(entry: unknown): number | undefined {
  if (typeof entry === 'object' && entry !== null) return containerPort((entry as { target?: unknown }).target);
  if (typeof entry !== 'number' && typeof entry !== 'string') return undefined;
  const last =
    String(entry)
      .replace(/\/(tcp|udp|sctp)$/, '')
      .split(':')
      .pop() ?? '';
  const n = Number(last.split('-')[0]);
  return Number.isInteger(n) && n >= 1 && n <= 65535 ? n : undefined;
}

/** `environment:` as a list (KEY=value, or KEY alone: from the shell) or a map (a null value: from the shell). */
export function envEntries(env: unknown): [string, string | undefined][] {
  if (Array.isArray(env)) {
    return env.flatMap((item): [string, string | undefined][] => {
      if (typeof item !== 'string' || item === '') return [];
      const eq = item.indexOf('=');
      return [eq < 0 ? [item, undefined] : [item.slice(0, eq), item.slice(eq + 1)]];
    });
  }
  if (typeof env === 'object' && env !== null) {
    return Object.entries(env).map(([k, v]): [string, string | undefined] => [k, v === null || v === undefined ? undefined : String(v)]);
  }
  return [];
}

/** KEY=VALUE lines of a .env file (compose reads the folder's .env for interpolation); quotes around a value dropped. */
export function parseDotenv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(raw);
    if (m) out[m[1]!] = m[2]!.replace(/^(['"])(.*)\1$/, '$2');
  }
  return out;
}

/**
 * Compose's interpolation: $$ is a dollar, ${VAR}, ${VAR:-default}, ${VAR-default}, $VAR from the .env file. A
 * variable it has no value for leaves the whole value unresolved (undefined): boxship.yml gets a comment instead.
 */
export function interpolate(value: string, vars: Record<string, string>): string | undefined {
  let unresolved = false;
  const out = value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (m, braced, op, arg, bare) => {
    if (m === '$$') return '$';
    const name = (braced ?? bare) as string;
    const set = vars[name];
    if (op === ':-' && !set) return arg as string;
    if (op === '-' && set === undefined) return arg as string;
    if (op === ':+' || op === '+') return (op === ':+' ? set : set !== undefined) ? (arg as string) : '';
    if (set === undefined) unresolved = true;
    return set ?? '';
  });
  return unresolved ? undefined : out;
}

/** `healthcheck.test` (a string, or ["CMD", …] / ["CMD-SHELL", "…"]) that asks a local URL: its path and port. */
export function healthFromTest(test: unknown): { path: string; port?: number } | undefined {
  const words = Array.isArray(test) ? test.map(String) : typeof test === 'string' ? [test] : [];
  if (words[0] === 'NONE') return undefined;
  const text = words.filter((w, i) => !(i === 0 && /^CMD(-SHELL)?$/.test(w))).join(' ');
  return /\b(curl|wget)\b/.test(text) ? healthcheckUrl(text) : undefined;
}

/** A command as compose takes it: a list as is, a string split into words as a shell would (quotes, backslashes). */
export function commandWords(command: unknown): string[] | undefined {
  if (Array.isArray(command)) return command.map(String);
  if (typeof command !== 'string' || command.trim() === '') return undefined;
  const words: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < command.length) word = (word ?? '') + command[++i];
      else word = (word ?? '') + c;
    } else if (c === '"' || c === "'") {
      quote = c;
      word ??= '';
    } else if (c === '\\' && i + 1 < command.length) word = (word ?? '') + command[++i];
    else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else word = (word ?? '') + c;
  }
  if (word !== undefined) words.push(word);
  return words;
}

export interface VolumeMount {
  /** A named volume's name; absent for a bind mount or an anonymous volume. */
  name?: string;
  /** The host path of a bind mount. */
  bind?: string;
  target: string;
  readOnly: boolean;
}

/** "data:/var/lib/x", "./src:/app:ro", "/cache", { type, source, target, read_only }: what is mounted where. */
export function volumeMount(entry: unknown): VolumeMount | undefined {
  if (typeof entry === 'object' && entry !== null) {
    const v = entry as { type?: unknown; source?: unknown; target?: unknown; read_only?: unknown };
    if (typeof v.target !== 'string') return undefined;
    const source = typeof v.source === 'string' ? v.source : undefined;
    const readOnly = v.read_only === true;
    if (v.type === 'bind') return { bind: source ?? '', target: v.target, readOnly };
    if (v.type === 'volume' || v.type === undefined) return { ...(source ? { name: source } : {}), target: v.target, readOnly };
    return undefined; // tmpfs, npipe, cluster: nothing on disk to keep
  }
  if (typeof entry !== 'string') return undefined;
  const parts = entry.split(':');
  if (parts.length === 1) return { target: parts[0]!, readOnly: false };
  const [source = '', target = '', mode = ''] = parts;
  const readOnly = mode.split(',').includes('ro');
  return /^[./~]/.test(source) ? { bind: source, target, readOnly } : { name: source, target, readOnly };
}

/** An accessory's name as boxship wants it: lowercase letters, digits and single -, starting with a letter. */
export function accessoryName(name: string, max = 40): string {
  const clean = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^[^a-z]+|-+$/g, '')
    .slice(0, max)
    .replace(/-+$/, '');
  return clean || 'x';
}

/** A volume's name as boxship wants it: lowercase letters, digits, _ and -, starting with a letter or digit. */
export function volumeName(name: string): string {
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9_-]+/g, '-')
      .replace(/^[^a-z0-9]+/, '') || 'data'
  );
}
