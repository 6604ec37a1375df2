/**
 * A compose file in the app folder, as `boxship init` reads it: the service compose builds becomes the app, the
 * other services built from the same image with a command of their own (workers, schedulers) become roles, the
 * services that run an image become accessories, and everything boxship has no place for is kept as a note naming
 * its compose key, so the written boxship.yml says what it left out. Secret-looking env values are set apart for
 * the secrets files: they never go into boxship.yml. Reads only.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { ConfigError } from '../config/problems.js';
import {
  accessoryName,
  commandWords,
  containerPort,
  envEntries,
  healthFromTest,
  interpolate,
  looksSecret,
  parseDotenv,
  volumeMount,
  volumeName,
} from './compose-fields.js';

const COMPOSE_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yml', 'docker-compose.yaml'];

/** What a service's environment and volumes become. */
interface Mapped {
  env: Record<string, string>;
  /** Secret-looking values, for a secrets file ('' when compose takes it from somewhere boxship cannot see). */
  secrets: Record<string, string>;
  /** Volume name -> container path (and :ro). */
  volumes: Record<string, { path: string; readOnly: boolean }>;
  /** Comment lines: what was left out, each naming its compose key. */
  notes: string[];
}

export interface ComposeApp extends Mapped {
  /** The compose service name. */
  name: string;
  context: string;
  dockerfile?: string;
  target?: string;
  args: Record<string, string>;
  port?: number;
  /** The compose key the port came from. */
  portFrom?: string;
  health?: { path: string; port?: number };
  stopSignal?: string;
}

export interface ComposeAccessory extends Mapped {
  /** Its boxship name (the compose name, made valid); `composeName` when that differs. */
  name: string;
  composeName: string;
  image: string;
  port?: number;
  cmd?: string[];
}

/** A worker beside the app: built as the app is (same context, Dockerfile and target), run with its own command. */
interface ComposeRole {
  /** Its boxship name (the compose name, made valid; never web); `composeName` when that differs. */
  name: string;
  composeName: string;
  cmd: string[];
  /** Its env where it differs from the app's (the app's env file and env reach every role). */
  env: Record<string, string>;
  instances?: number;
  stopSignal?: string;
  /** A health command from compose's healthcheck test (CMD words, or CMD-SHELL run by sh -c). */
  healthCmd?: string[];
  notes: string[];
}

export interface ComposeFacts {
  file: string;
  app?: ComposeApp;
  roles: ComposeRole[];
  accessories: ComposeAccessory[];
  /** Notes about the file as a whole (top-level keys, services with neither build nor image, the choice of app). */
  notes: string[];
}

/** Ports of the usual images, for an accessory whose compose service neither publishes nor exposes one. */
const WELL_KNOWN_PORTS: [RegExp, number][] = [
  [/postgres|postgis|timescale/, 5432],
  [/mysql|mariadb|percona/, 3306],
  [/redis|valkey|keydb/, 6379],
  [/mongo/, 27017],
  [/memcached/, 11211],
  [/rabbitmq/, 5672],
  [/elasticsearch|opensearch/, 9200],
];

const TOP_LEVEL_KNOWN = new Set(['services', 'volumes', 'version', 'name']);
const APP_KEYS = new Set(['build', 'image', 'ports', 'expose', 'environment', 'volumes', 'stop_signal', 'healthcheck']);
const ACCESSORY_KEYS = new Set(['image', 'ports', 'expose', 'environment', 'volumes', 'command']);

/** Why a key is left out, where there is more to say than "boxship has no equivalent". */
const WHY: Record<string, string> = {
  depends_on: 'boxship starts every accessory (waiting for its port) before the app rolls out, in no set order',
  restart: 'boxship runs instances and accessories with --restart unless-stopped',
  command: 'boxship runs the image CMD: put this in the Dockerfile',
  entrypoint: 'boxship runs the image ENTRYPOINT: put this in the Dockerfile',
  env_file: 'not read: put its secret values in the secrets file, the others under env:',
  networks: 'boxship puts the app and its accessories on one network of its own (boxship-<service>)',
  container_name: 'boxship names the containers <service>-<n>',
  healthcheck: 'boxship waits for the port it listens on',
  deploy: 'instances: and the hosts decide how many run where',
};

const text = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

/** The first compose file of the folder, parsed and mapped; undefined when there is none. */
export function readCompose(dir: string): ComposeFacts | undefined {
  const file = COMPOSE_FILES.find((f) => existsSync(join(dir, f)));
  if (!file) return undefined;
  const dotenv = existsSync(join(dir, '.env')) ? parseDotenv(readFileSync(join(dir, '.env'), 'utf8')) : {};
  return parseCompose(readFileSync(join(dir, file), 'utf8'), file, dotenv);
}

/** Compose text -> what boxship makes of it (pure). A file that does not parse is a ConfigError naming file:line. */
export function parseCompose(source: string, file: string, dotenv: Record<string, string> = {}): ComposeFacts {
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const fail = (pos: number, message: string, hint: string): never => {
    const { line, col } = lineCounter.linePos(pos);
    throw new ConfigError([{ file, line, column: col, path: '', message, hint }]);
  };
  const [err] = doc.errors;
  if (err) fail(err.pos[0], `invalid YAML: ${err.message}`, `fix ${file} (docker compose config shows what compose makes of it), then run boxship init again`);
  const data = doc.toJS({ maxAliasCount: 1000 }) as unknown;
  const services = (data as { services?: unknown } | null)?.services;
  if (typeof services !== 'object' || services === null || Array.isArray(services)) {
    fail(0, 'no services: map in this compose file', `a compose file lists its containers under services:; move ${file} away to run boxship init without it`);
  }
  const facts: ComposeFacts = { file, roles: [], accessories: [], notes: [] };
  for (const key of Object.keys(data as object)) {
    if (!TOP_LEVEL_KNOWN.has(key)) facts.notes.push(`${key} (top level): not mapped`);
  }
  const all = Object.entries(services as Record<string, unknown>).map(([name, s]) => [name, (s ?? {}) as Record<string, unknown>] as const);
  const builds = all.filter(([, s]) => s.build !== undefined);
  const chosen = builds.find(([, s]) => s.ports !== undefined || s.expose !== undefined) ?? builds[0];
  if (chosen) {
    const app = mapApp(chosen[0], chosen[1], dotenv);
    facts.app = app;
    const others = builds.filter(([n]) => n !== chosen[0]);
    // Same image and a command of its own: a worker (a role). Another image is another service.
    const roles = others.filter(([, s]) => sameBuild(s.build, chosen[1].build) && commandWords(s.command)?.length);
    for (const [name, s] of roles) facts.roles.push(mapRole(name, s, app, dotenv, facts.roles));
    const apart = others.filter((o) => !roles.includes(o));
    if (apart.length) {
      facts.notes.push(
        `services.${chosen[0]} is the app (${chosen[1].ports !== undefined || chosen[1].expose !== undefined ? 'it has ports' : 'the first with build:'}); ` +
          `${apart
            .map(([n, s]) => `services.${n}${s.command ? ` (command: ${commandWords(s.command)?.join(' ')})` : ''}`)
            .join(
              ', ',
            )} also build${apart.length > 1 ? '' : 's'}: not mapped (${apart.map(([, s]) => (sameBuild(s.build, chosen[1].build) ? 'the same image with no command of its own' : 'another image')).join('; ')}: one service per boxship.yml, give it a boxship.yml of its own)`,
      );
    }
  }
  for (const [name, s] of all) {
    if (s.build !== undefined) continue;
    if (typeof s.image !== 'string') facts.notes.push(`services.${name}: neither build: nor image:, not mapped`);
    else facts.accessories.push(mapAccessory(name, s, dotenv));
  }
  return facts;
}

function mapEnvAndVolumes(at: string, s: Record<string, unknown>, dotenv: Record<string, string>): Mapped {
  const out: Mapped = { env: {}, secrets: {}, volumes: {}, notes: [] };
  for (const [key, raw] of envEntries(s.environment)) {
    const value = raw === undefined ? undefined : interpolate(raw, dotenv);
    if (looksSecret(key, value ?? raw)) {
      out.secrets[key] = value ?? '';
      if (value === undefined) out.notes.push(`${at}.environment.${key}: compose takes it from ${raw ?? 'the shell'}: fill it in the secrets file`);
    } else if (value === undefined) out.notes.push(`${at}.environment.${key}: compose takes it from ${raw ?? 'the shell'}: set it under env:`);
    else out.env[key] = value;
  }
  for (const entry of Array.isArray(s.volumes) ? s.volumes : []) {
    const m = volumeMount(entry);
    if (m?.name && m.target.startsWith('/')) out.volumes[volumeName(m.name)] = { path: m.target, readOnly: m.readOnly };
    else if (m?.bind !== undefined)
      out.notes.push(`${at}.volumes: ${text(entry)}: a bind mount of this machine's ${m.bind}, not mapped (the image is the commit)`);
    else out.notes.push(`${at}.volumes: ${text(entry)}: not mapped`);
  }
  return out;
}

function notesForKeys(at: string, s: Record<string, unknown>, handled: Set<string>): string[] {
  return Object.keys(s)
    .filter((k) => !handled.has(k))
    .map((k) => `${at}.${k}: ${WHY[k] ?? 'not mapped'}`);
}

function mapApp(name: string, s: Record<string, unknown>, dotenv: Record<string, string>): ComposeApp {
  const at = `services.${name}`;
  const b = typeof s.build === 'string' ? { context: s.build } : ((s.build ?? {}) as Record<string, unknown>);
  const mapped = mapEnvAndVolumes(at, s, dotenv);
  const app: ComposeApp = { name, context: typeof b.context === 'string' ? b.context : '.', args: {}, ...mapped };
  if (typeof b.dockerfile === 'string') app.dockerfile = b.dockerfile;
  if (typeof b.target === 'string') app.target = b.target;
  for (const [key, raw] of envEntries(b.args)) {
    const value = raw === undefined ? undefined : interpolate(raw, dotenv);
    if (value === undefined || looksSecret(key, value))
      app.notes.push(`${at}.build.args.${key}: not mapped (${value === undefined ? 'no value here' : 'a secret: never a build arg'})`);
    else app.args[key] = value;
  }
  for (const k of Object.keys(b)) if (!['context', 'dockerfile', 'target', 'args'].includes(k)) app.notes.push(`${at}.build.${k}: not mapped`);
  if (typeof s.image === 'string') app.notes.push(`${at}.image: ${s.image}: boxship tags the image <service>:<git sha>`);
  const ports = Array.isArray(s.ports) ? s.ports.map(containerPort) : [];
  const exposed = Array.isArray(s.expose) ? s.expose.map(containerPort) : [];
  const port = ports.find((p) => p !== undefined) ?? exposed.find((p) => p !== undefined);
  if (port !== undefined) {
    app.port = port;
    app.portFrom = ports.includes(port) ? `${at}.ports` : `${at}.expose`;
  }
  const health = healthFromTest((s.healthcheck as { test?: unknown } | undefined)?.test);
  if (health) app.health = health;
  else if (s.healthcheck !== undefined) app.notes.push(`${at}.healthcheck: not an HTTP check of a local URL: set healthcheck.path to a path that answers 2xx`);
  if (typeof s.stop_signal === 'string') app.stopSignal = s.stop_signal;
  // boxship sets PORT to app.port itself; a different one in compose would only confuse.
  if (app.env.PORT !== undefined && Number(app.env.PORT) === app.port) delete app.env.PORT;
  app.notes.push(...notesForKeys(at, s, APP_KEYS).filter((n) => !(n.startsWith(`${at}.healthcheck:`) && health)));
  return app;
}

/** context, dockerfile and target of a compose build: (string) or { context, dockerfile, target }. */
function buildKey(build: unknown): string {
  const b = typeof build === 'string' ? { context: build } : ((build ?? {}) as Record<string, unknown>);
  const context = String(b.context ?? '.').replace(/\/+$/, '') || '.';
  return JSON.stringify([context === './' ? '.' : context, b.dockerfile ?? 'Dockerfile', b.target ?? null]);
}

function sameBuild(a: unknown, b: unknown): boolean {
  return buildKey(a) === buildKey(b);
}

const ROLE_KEYS = new Set(['build', 'command', 'environment', 'stop_signal', 'healthcheck', 'deploy', 'volumes', 'depends_on', 'image']);

function mapRole(composeName: string, s: Record<string, unknown>, app: ComposeApp, dotenv: Record<string, string>, taken: ComposeRole[]): ComposeRole {
  const at = `services.${composeName}`;
  let name = accessoryName(composeName, 30);
  if (name === 'web') name = 'web-role';
  while (taken.some((r) => r.name === name)) name = `${name.slice(0, 27)}-${taken.length + 1}`;
  // Words as compose would run them ($$ a dollar, ${VAR} from .env); one it cannot resolve stays as written, noted.
  const resolve = (words: string[], key: string): string[] | undefined => {
    const out = words.map((w) => interpolate(w, dotenv));
    if (out.every((w) => w !== undefined)) return out as string[];
    role.notes.push(`${at}.${key}: uses a variable compose takes from elsewhere: check cmd: (a secret value belongs in the secrets file)`);
    return undefined;
  };
  const role: ComposeRole = { name, composeName, cmd: [], env: {}, notes: [] };
  const words = commandWords(s.command) ?? [];
  role.cmd = resolve(words, 'command') ?? words;
  if (name !== composeName) role.notes.push(`${at}: named ${name} here (a role name is lowercase letters, digits and -, not web)`);
  const mapped = mapEnvAndVolumes(at, s, dotenv);
  for (const [k, v] of Object.entries(mapped.env)) if (app.env[k] !== v) role.env[k] = v;
  // A role reads the app's env file: its secrets go there, next to the app's.
  for (const [k, v] of Object.entries(mapped.secrets)) {
    if (app.secrets[k] === undefined) app.secrets[k] = v;
    else if (app.secrets[k] !== v) role.notes.push(`${at}.environment.${k}: differs from the app's: roles share the app's secrets file`);
  }
  role.notes.push(...mapped.notes);
  for (const [v, m] of Object.entries(mapped.volumes)) {
    const same = app.volumes[v];
    if (!same || same.path !== m.path) role.notes.push(`${at}.volumes: ${v}:${m.path}: a role mounts the app's volumes (app.volumes), not its own`);
  }
  if (typeof s.stop_signal === 'string') role.stopSignal = s.stop_signal;
  const test = (s.healthcheck as { test?: unknown } | undefined)?.test;
  const check = Array.isArray(test) ? test.map(String) : typeof test === 'string' ? ['CMD-SHELL', test] : [];
  const health = check[0] === 'CMD' ? check.slice(1) : check[0] === 'CMD-SHELL' ? ['sh', '-c', check.slice(1).join(' ')] : [];
  if (health.length && health.at(-1) !== '') {
    const resolved = resolve(health, 'healthcheck.test');
    if (resolved) role.healthCmd = resolved;
  }
  const deploy = (s.deploy ?? {}) as Record<string, unknown>;
  if (Number.isInteger(deploy.replicas) && (deploy.replicas as number) > 0) role.instances = deploy.replicas as number;
  for (const k of Object.keys(deploy)) if (k !== 'replicas') role.notes.push(`${at}.deploy.${k}: not mapped`);
  const deps = Array.isArray(s.depends_on) ? s.depends_on : typeof s.depends_on === 'object' && s.depends_on ? Object.keys(s.depends_on) : [];
  if (deps.length) role.notes.push(`${at}.depends_on: ${deps.join(', ')}: ${WHY.depends_on}`);
  role.notes.push(...notesForKeys(at, s, ROLE_KEYS));
  return role;
}

function mapAccessory(composeName: string, s: Record<string, unknown>, dotenv: Record<string, string>): ComposeAccessory {
  const at = `services.${composeName}`;
  const image = interpolate(String(s.image), dotenv) ?? String(s.image);
  const a: ComposeAccessory = { name: accessoryName(composeName), composeName, image, ...mapEnvAndVolumes(at, s, dotenv) };
  const port =
    (Array.isArray(s.ports) ? s.ports.map(containerPort).find((p) => p !== undefined) : undefined) ??
    (Array.isArray(s.expose) ? s.expose.map(containerPort).find((p) => p !== undefined) : undefined) ??
    WELL_KNOWN_PORTS.find(([re]) => re.test(image.split('/').pop() ?? ''))?.[1];
  if (port !== undefined) a.port = port;
  const cmd = commandWords(s.command);
  // A command with ${VAR} in it often carries a secret (--requirepass): it never goes into boxship.yml.
  if (cmd?.some((w) => w.includes('$')))
    a.notes.push(`${at}.command: uses compose interpolation: not mapped (set cmd:; a secret value belongs in secrets_file)`);
  else if (cmd?.length) a.cmd = cmd;
  if (a.name !== composeName)
    a.notes.push(`${at}: named ${a.name} here (an accessory name is lowercase letters, digits and -): the app reaches it as ${a.name}`);
  if (Array.isArray(s.ports) && s.ports.length) a.notes.push(`${at}.ports: not published on the host (publish: 127.0.0.1 would)`);
  const deps = Array.isArray(s.depends_on) ? s.depends_on : typeof s.depends_on === 'object' && s.depends_on ? Object.keys(s.depends_on) : [];
  const rest = notesForKeys(at, s, new Set([...ACCESSORY_KEYS, 'depends_on']));
  if (deps.length) rest.unshift(`${at}.depends_on: ${deps.join(', ')}: ${WHY.depends_on}`);
  a.notes.push(...rest);
  return a;
}
