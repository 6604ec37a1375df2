/**
 * The Caddy (2.6.2) JSON config of the per-host proxy, as a pure function of the service settings.
 *
 * The config never changes during a release: in Caddy every config change is a full reload, and a reload resets some
 * client keep-alive connections. So each instance slot n has two fixed upstream names, the Docker network aliases
 * `<service>-<n>-blue` and `<service>-<n>-green`, and all of them are always in the upstream list. A swap starts the
 * idle colour, waits until it answers, then stops the live one; Caddy's active health checks, plus retries of failed
 * dials, move traffic without any config change. An alias whose container does not run does not resolve (Docker's
 * DNS answers NXDOMAIN at once), which is a dial error, which Caddy retries on another upstream.
 *
 * Caddy's log level is WARN: at INFO it logs every failed active health check, and the idle colour of every slot
 * fails one each interval, forever (the container's log would grow by ~170k lines a day per slot).
 *
 * When no upstream answers within the try duration (or in maintenance mode), clients get a 503 with Retry-After and
 * the configured back-off header, never a 502/504: a JSON body when their Accept header mentions json, text otherwise.
 * `/__boxship/health` always answers 200 so that an outer load balancer keeps the host while it is in maintenance.
 */
import type { Config } from '../config/types.js';

export type Colour = 'blue' | 'green';
export const COLOURS: readonly Colour[] = ['blue', 'green'];

/** Where the config file is inside the proxy container (its folder is the host's proxy dir, mounted read-only). */
export const CADDY_CONFIG_DIR = '/etc/boxship';
export const CADDY_CONFIG_PATH = `${CADDY_CONFIG_DIR}/caddy.json`;
/** Answers 200 `ok` whenever the proxy runs, in every mode. */
export const PROXY_HEALTH_PATH = '/__boxship/health';
/** Caddy's admin API: loopback inside the proxy container only, never published. */
export const PROXY_ADMIN_LISTEN = 'localhost:2019';
/** Port the proxy listens on inside its container; the configured proxy.port is published onto it. */
export const PROXY_CONTAINER_PORT = 80;

/** Active health checks run at least this often, whatever healthcheck.interval says: it bounds how fast a swap is noticed. */
export const MAX_HEALTH_INTERVAL_MS = 1000;
/** How long Caddy keeps trying other upstreams for one request before it answers 503. */
export const TRY_DURATION_MS = 3000;
export const TRY_INTERVAL_MS = 50;
export const DIAL_TIMEOUT_MS = 500;

export type SelectionPolicy = 'least_conn' | 'round_robin';

export type ProxyMode = { kind: 'serving' } | { kind: 'maintenance'; retryAfterSeconds: number; message: string };

export interface CaddyConfigInput {
  service: string;
  /** Instance slots 1..instances, each with a blue and a green upstream. */
  instances: number;
  appPort: number;
  healthPath: string;
  /** Port of the health endpoint when it is not appPort. */
  healthPort?: number;
  healthIntervalMs: number;
  healthTimeoutMs: number;
  /** Retry-After of the 503 sent when no instance answers (serving mode). */
  retryAfterSeconds: number;
  backoffHeader: string;
  mode: ProxyMode;
  /** Default least_conn: spreads over the healthy upstreams and favours the less busy one. */
  selectionPolicy?: SelectionPolicy;
}

/** The subset of Caddy's JSON config that boxship writes. */
export type CaddyRoute = { match?: Record<string, unknown>[]; handle: Record<string, unknown>[]; terminal?: boolean };
export interface CaddyJson {
  admin: { listen: string; config: { persist: boolean } };
  logging: { logs: { default: { level: string } } };
  apps: {
    http: {
      servers: Record<
        string,
        {
          listen: string[];
          automatic_https: { disable: boolean };
          routes: CaddyRoute[];
          errors?: { routes: CaddyRoute[] };
        }
      >;
    };
  };
}

/** The Docker network alias of one colour of one instance slot, e.g. `hello-1-blue`. */
export function upstreamName(service: string, slot: number, colour: Colour): string {
  return `${service}-${slot}-${colour}`;
}

/** Every upstream alias of the service, slot by slot: 1-blue, 1-green, 2-blue, ... */
export function upstreamNames(service: string, instances: number): string[] {
  const names: string[] = [];
  for (let slot = 1; slot <= instances; slot++) for (const colour of COLOURS) names.push(upstreamName(service, slot, colour));
  return names;
}

/** The `<service>-<n>-<colour>` aliases are DNS labels: at most 63 characters. */
const SERVICE_RE = /^[a-z0-9][a-z0-9-]*$/;

/** Caddy duration string: whole seconds as `3s`, anything else in milliseconds. */
export function duration(ms: number): string {
  const n = Math.round(ms);
  return n % 1000 === 0 ? `${n / 1000}s` : `${n}ms`;
}

/**
 * static_response bodies go through Caddy's placeholder replacer, which would expand `{...}` in them (a message
 * mentioning `{http.request.uri}`, or JSON). A backslash before each brace makes the replacer emit the brace itself.
 */
export function escapePlaceholders(text: string): string {
  return text.replace(/[{}]/g, (c) => `\\${c}`);
}

const ACCEPTS_JSON = { header_regexp: { Accept: { pattern: '(?i)json' } } };

/** 503 responses: JSON when the client's Accept header mentions json, plain text otherwise. */
function unavailable(retryAfterSeconds: number, backoffHeader: string, json: Record<string, unknown>, text: string): CaddyRoute[] {
  const s = String(retryAfterSeconds);
  const headers = (type: string) => ({ 'Content-Type': [type], 'Retry-After': [s], [backoffHeader]: [s], 'Cache-Control': ['no-store'] });
  return [
    {
      match: [ACCEPTS_JSON],
      handle: [{ handler: 'static_response', status_code: 503, headers: headers('application/json'), body: escapePlaceholders(`${JSON.stringify(json)}\n`) }],
      terminal: true,
    },
    {
      handle: [{ handler: 'static_response', status_code: 503, headers: headers('text/plain; charset=utf-8'), body: escapePlaceholders(`${text}\n`) }],
      terminal: true,
    },
  ];
}

function healthRoute(): CaddyRoute {
  return {
    match: [{ path: [PROXY_HEALTH_PATH] }],
    handle: [{ handler: 'static_response', status_code: 200, headers: { 'Content-Type': ['text/plain; charset=utf-8'], 'Cache-Control': ['no-store'] }, body: 'ok\n' }],
    terminal: true,
  };
}

function check(input: CaddyConfigInput): void {
  const wholePositive = (n: number) => Number.isInteger(n) && n > 0;
  if (!SERVICE_RE.test(input.service)) throw new RangeError(`service name ${JSON.stringify(input.service)} is not [a-z0-9][a-z0-9-]*`);
  if (!wholePositive(input.instances)) throw new RangeError(`instances must be a whole number of at least 1, got ${input.instances}`);
  const longest = upstreamName(input.service, input.instances, 'green');
  if (longest.length > 63) throw new RangeError(`upstream name ${longest} is longer than a DNS label (63 characters)`);
  for (const [name, port] of [['appPort', input.appPort], ['healthPort', input.healthPort ?? input.appPort]] as const) {
    if (!wholePositive(port) || port > 65535) throw new RangeError(`${name} must be a port number, got ${port}`);
  }
  if (!input.healthPath.startsWith('/')) throw new RangeError(`healthPath must start with /, got ${input.healthPath}`);
  if (!(input.healthIntervalMs > 0) || !(input.healthTimeoutMs > 0)) throw new RangeError('health interval and timeout must be positive');
  if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(input.backoffHeader)) throw new RangeError(`${JSON.stringify(input.backoffHeader)} is not an HTTP header name`);
  const retry = input.mode.kind === 'maintenance' ? [input.retryAfterSeconds, input.mode.retryAfterSeconds] : [input.retryAfterSeconds];
  for (const r of retry) if (!Number.isInteger(r) || r < 0) throw new RangeError(`Retry-After must be whole seconds, got ${r}`);
}

/** Active health checks: the app's health path, at most every MAX_HEALTH_INTERVAL_MS, timeout no longer than the interval. */
export function healthTiming(intervalMs: number, timeoutMs: number): { intervalMs: number; timeoutMs: number } {
  const interval = Math.max(1, Math.min(intervalMs, MAX_HEALTH_INTERVAL_MS));
  return { intervalMs: interval, timeoutMs: Math.max(1, Math.min(timeoutMs, interval)) };
}

function reverseProxy(input: CaddyConfigInput): Record<string, unknown> {
  const timing = healthTiming(input.healthIntervalMs, input.healthTimeoutMs);
  const active: Record<string, unknown> = { uri: input.healthPath, interval: duration(timing.intervalMs), timeout: duration(timing.timeoutMs) };
  if (input.healthPort !== undefined && input.healthPort !== input.appPort) active.port = input.healthPort;
  return {
    handler: 'reverse_proxy',
    upstreams: upstreamNames(input.service, input.instances).map((name) => ({ dial: `${name}:${input.appPort}` })),
    load_balancing: {
      selection_policy: { policy: input.selectionPolicy ?? 'least_conn' },
      try_duration: duration(TRY_DURATION_MS),
      try_interval: duration(TRY_INTERVAL_MS),
    },
    // Active checks only. Passive checks (fail_duration/max_fails) are left out on purpose: in Caddy 2.6.2 a request
    // with a body that hits a stopped upstream is a dial error, which Caddy retries on the next upstream with the
    // already closed body; that attempt fails too and counts as a failure of the healthy upstream, so with passive
    // checks on, one such request takes the live instance out for fail_duration and every non-GET request in that
    // window is answered 503 at once (measured: thousands of 503s per swap under POST load, 0 to ~16 without).
    health_checks: { active },
    transport: { protocol: 'http', dial_timeout: duration(DIAL_TIMEOUT_MS) },
  };
}

/** The whole Caddy config of the proxy of one service on one host. */
export function caddyConfig(input: CaddyConfigInput): CaddyJson {
  check(input);
  const routes: CaddyRoute[] = [healthRoute()];
  let errors: { routes: CaddyRoute[] } | undefined;
  if (input.mode.kind === 'serving') {
    routes.push({ handle: [reverseProxy(input)], terminal: true });
    errors = {
      routes: unavailable(input.retryAfterSeconds, input.backoffHeader, { error: 'service unavailable', retry_after: input.retryAfterSeconds }, 'service unavailable'),
    };
  } else {
    const { retryAfterSeconds, message } = input.mode;
    routes.push({
      handle: [{ handler: 'subroute', routes: unavailable(retryAfterSeconds, input.backoffHeader, { error: 'maintenance', message, retry_after: retryAfterSeconds }, message) }],
      terminal: true,
    });
  }
  return {
    admin: { listen: PROXY_ADMIN_LISTEN, config: { persist: false } },
    logging: { logs: { default: { level: 'WARN' } } },
    apps: {
      http: {
        servers: {
          boxship: {
            listen: [`:${PROXY_CONTAINER_PORT}`],
            automatic_https: { disable: true },
            routes,
            ...(errors ? { errors } : {}),
          },
        },
      },
    },
  };
}

/** The config file's text: what gets written to the host and mounted into the proxy. */
export function caddyConfigText(input: CaddyConfigInput): string {
  return `${JSON.stringify(caddyConfig(input), null, 2)}\n`;
}

/** caddyConfig's input from boxship.yml, for one host. */
export function caddyInputFromConfig(config: Config, instances: number, mode: ProxyMode = { kind: 'serving' }): CaddyConfigInput {
  return {
    service: config.service,
    instances,
    appPort: config.app.port,
    healthPath: config.healthcheck.path,
    healthPort: config.healthcheck.port,
    healthIntervalMs: config.healthcheck.intervalMs,
    healthTimeoutMs: config.healthcheck.timeoutMs,
    retryAfterSeconds: config.proxy.retryAfterSeconds,
    backoffHeader: config.proxy.backoffHeader,
    mode,
  };
}
