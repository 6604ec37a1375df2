/**
 * The Caddy (2.6.2) JSON config of the per-host proxy's router, as a pure function of the service settings. The
 * router sits behind the edge (edge-config.ts), which holds the client connections, so the rare reload this config
 * needs (a change of app.port or of the health check) closes no client connection.
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
 * Which colour of a slot takes traffic is decided per request by a marker file, not by the config: a request with a
 * body that meets an instance going away is not retried by Caddy 2.6.2 (a dial error closes the body before the retry;
 * `buffer_requests` hands the buffer back to a shared pool after the first attempt, so a retry could send another
 * request's body), and a request sent on a keep-alive connection the old instance is closing is not retried by any
 * version unless it is a GET. So the old instance must be out of rotation before it is told to stop: the hand-over
 * flips `live/<slot>-green` (present: green serves the slot; absent: blue), and from the next request on Caddy
 * routes that slot to the new colour only. The routes form a tree of `file` matchers, one level per slot, whose 2^N
 * leaves are reverse proxies over one colour per slot; beyond MAX_ROUTED_INSTANCES slots (16 leaves, each with its
 * own active health checks) the config falls back to one proxy over both colours of every slot.
 *
 * The answers the proxy gives by itself (health, maintenance, 503) and the server shell are in caddy-answers.ts.
 */
import { SERVICE_RE, SERVICE_RULE } from '../config/service-name.js';
import type { Config } from '../config/types.js';
import { routerSocket } from '../edge/layout.js';
import { type CaddyJson, type CaddyRoute, caddyServerConfig, fileExists, healthRoute, maintenanceRoute } from './caddy-answers.js';

export type Colour = 'blue' | 'green';
const COLOURS: readonly Colour[] = ['blue', 'green'];

/** Caddy's admin API: loopback inside the proxy container only, never published. */
export const PROXY_ADMIN_LISTEN = 'localhost:2019';
/** Port the proxy (its edge: edge-config.ts) listens on inside its container; proxy.port is published onto it. */
export const PROXY_CONTAINER_PORT = 80;
/**
 * Where this config's Caddy, the router, listens inside the container: a unix socket, reached only through the edge.
 * Not loopback TCP: Caddy (2.6.2 and 2.11) rebinds a TCP listener on reload with SO_REUSEPORT and closes the old
 * socket, and a connection still queued on the old one is reset (measured: a few 503s per 17 reloads under load);
 * a unix socket is handed to the new config as a dup of the same socket, so no queued connection is lost.
 */
export const ROUTER_LISTEN = 'unix//tmp/boxship-router.sock';
/**
 * The router's reverse proxies pass on the X-Forwarded-* headers the edge set, i.e. what the real client sent and
 * from where: a request over a unix socket has no remote IP, so Caddy would drop them (and with a TCP hop the app
 * would see the edge, 127.0.0.1, as its client). Header ops run after Caddy's own X-Forwarded-* handling (checked
 * on 2.6.2), so `set` wins. The edge does not trust clients' X-Forwarded-* headers, so they cannot be forged.
 */
export const FORWARDED_FROM_EDGE = {
  request: {
    set: Object.fromEntries(['X-Forwarded-For', 'X-Forwarded-Proto', 'X-Forwarded-Host'].map((h) => [h, [`{http.request.header.${h}}`]])),
  },
};

/** Active health checks run at least this often, whatever healthcheck.interval says: it bounds how fast a swap is noticed. */
const MAX_HEALTH_INTERVAL_MS = 1000;
/** How long Caddy keeps trying other upstreams for one request before it answers 503. */
export const TRY_DURATION_MS = 3000;
export const TRY_INTERVAL_MS = 50;
export const DIAL_TIMEOUT_MS = 500;

type SelectionPolicy = 'least_conn' | 'round_robin';

/** Up to this many slots per host, each slot's serving colour is picked per request from its marker file. */
export const MAX_ROUTED_INSTANCES = 4;
/** Folder (inside the proxy dir) of the per-slot colour markers: `<slot>-green` present means green serves the slot. */
export const LIVE_DIR = 'live';
/** The marker file of a slot, relative to the proxy dir. */
export function liveMarker(slot: number): string {
  return `${LIVE_DIR}/${slot}-green`;
}

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
  /** Retry-After of the 503 sent when no instance answers. */
  retryAfterSeconds: number;
  backoffHeader: string;
  /** proxy.hosts: the router listens on this socket of the server's edge too (edge/layout.ts routerSocket). */
  edgeSocket?: string;
  /** Default least_conn: spreads over the healthy upstreams and favours the less busy one. */
  selectionPolicy?: SelectionPolicy;
  /** Per upstream name, the port to dial instead of appPort (while a port change is rolled out: see settings.ts). */
  upstreamPorts?: Readonly<Record<string, number>>;
  /** Default true; off while the health path changes (one path per proxy: see settings.ts). */
  activeHealth?: boolean;
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

/** Caddy duration string: whole seconds as `3s`, anything else in milliseconds. */
export function duration(ms: number): string {
  const n = Math.round(ms);
  return n % 1000 === 0 ? `${n / 1000}s` : `${n}ms`;
}

function check(input: CaddyConfigInput): void {
  const wholePositive = (n: number) => Number.isInteger(n) && n > 0;
  if (!SERVICE_RE.test(input.service)) throw new RangeError(`service name ${JSON.stringify(input.service)} must be ${SERVICE_RULE}`);
  if (!wholePositive(input.instances)) throw new RangeError(`instances must be a whole number of at least 1, got ${input.instances}`);
  // The `<service>-<n>-<colour>` aliases are DNS labels too: the suffix must fit in 63 characters as well.
  const longest = upstreamName(input.service, input.instances, 'green');
  if (longest.length > 63) throw new RangeError(`upstream name ${longest} is longer than a DNS label (63 characters)`);
  for (const [name, port] of [
    ['appPort', input.appPort],
    ['healthPort', input.healthPort ?? input.appPort],
  ] as const) {
    if (!wholePositive(port) || port > 65535) throw new RangeError(`${name} must be a port number, got ${port}`);
  }
  if (!input.healthPath.startsWith('/')) throw new RangeError(`healthPath must start with /, got ${input.healthPath}`);
  if (!(input.healthIntervalMs > 0) || !(input.healthTimeoutMs > 0)) throw new RangeError('health interval and timeout must be positive');
  if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(input.backoffHeader)) throw new RangeError(`${JSON.stringify(input.backoffHeader)} is not an HTTP header name`);
  if (!Number.isInteger(input.retryAfterSeconds) || input.retryAfterSeconds < 0)
    throw new RangeError(`Retry-After must be whole seconds, got ${input.retryAfterSeconds}`);
}

/** Active health checks: the app's health path, at most every MAX_HEALTH_INTERVAL_MS, timeout no longer than the interval. */
export function healthTiming(intervalMs: number, timeoutMs: number): { intervalMs: number; timeoutMs: number } {
  const interval = Math.max(1, Math.min(intervalMs, MAX_HEALTH_INTERVAL_MS));
  return { intervalMs: interval, timeoutMs: Math.max(1, Math.min(timeoutMs, interval)) };
}

function reverseProxy(input: CaddyConfigInput, names: string[]): Record<string, unknown> {
  const timing = healthTiming(input.healthIntervalMs, input.healthTimeoutMs);
  const active: Record<string, unknown> = { uri: input.healthPath, interval: duration(timing.intervalMs), timeout: duration(timing.timeoutMs) };
  if (input.healthPort !== undefined && input.healthPort !== input.appPort) active.port = input.healthPort;
  return {
    handler: 'reverse_proxy',
    upstreams: names.map((name) => ({ dial: `${name}:${input.upstreamPorts?.[name] ?? input.appPort}` })),
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
    ...(input.activeHealth === false ? {} : { health_checks: { active } }),
    headers: FORWARDED_FROM_EDGE,
    transport: { protocol: 'http', dial_timeout: duration(DIAL_TIMEOUT_MS) },
  };
}

/**
 * Routes that pick slot `slot`'s colour from its marker, then the next slot's, and so on; at the leaf, a reverse proxy
 * over the chosen colour of every slot. Depth N, so a request costs N stat calls.
 */
function colourTree(input: CaddyConfigInput, slot: number, chosen: string[]): Record<string, unknown> {
  if (slot > input.instances) return reverseProxy(input, chosen);
  const branch = (colour: Colour) => colourTree(input, slot + 1, [...chosen, upstreamName(input.service, slot, colour)]);
  return {
    handler: 'subroute',
    routes: [
      { match: [fileExists(liveMarker(slot))], handle: [branch('green')], terminal: true },
      { handle: [branch('blue')], terminal: true },
    ],
  };
}

/** The traffic handler: a colour tree, or beyond MAX_ROUTED_INSTANCES one proxy over every upstream. */
function traffic(input: CaddyConfigInput): Record<string, unknown> {
  return input.instances <= MAX_ROUTED_INSTANCES ? colourTree(input, 1, []) : reverseProxy(input, upstreamNames(input.service, input.instances));
}

/**
 * The whole Caddy config of the proxy of one service on one host: the same in every mode and at every swap.
 * `trafficHandler` replaces the per-host colour routes (the Swarm backend proxies to DNS-resolved tasks instead);
 * the health endpoint, maintenance mode and the 503 answers stay the same.
 */
export function caddyConfig(input: CaddyConfigInput, trafficHandler?: Record<string, unknown>): CaddyJson {
  check(input);
  const routes: CaddyRoute[] = [healthRoute(), maintenanceRoute(input.backoffHeader), { handle: [trafficHandler ?? traffic(input)], terminal: true }];
  const listen = input.edgeSocket ? [ROUTER_LISTEN, `unix/${input.edgeSocket}`] : ROUTER_LISTEN;
  return caddyServerConfig({ adminListen: PROXY_ADMIN_LISTEN, name: 'boxship', listen, routes }, input);
}

/** The config file's text: what gets written to the host and mounted into the proxy. */
export function caddyConfigText(input: CaddyConfigInput): string {
  return `${JSON.stringify(caddyConfig(input), null, 2)}\n`;
}

/** caddyConfig's input from boxship.yml, for one host. */
export function caddyInputFromConfig(config: Config, instances: number): CaddyConfigInput {
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
    ...(config.proxy.site ? { edgeSocket: routerSocket(config.service) } : {}),
  };
}
