/**
 * The proxy container runs two Caddy processes: an *edge* that holds the clients' connections and is (almost) never
 * reloaded, and the *router* (caddy-config.ts) that holds everything that can change, behind it on a unix socket.
 *
 * Why: in Caddy (2.6.2 and 2.11 alike) every config change is a full reload, and a reload closes every idle
 * keep-alive client connection; a client that sends on one at that instant gets a reset. Swaps and maintenance change
 * no config (marker files), but a rollout that changes app.port or the health check must reload. Measured on this
 * machine (12 keep-alive clients, GET + POST, 60 reloads, CPU saturated): one Caddy, 134 failed requests in 40
 * reloads; the edge in front with keep-alive to the router, 21 failed (502s: the edge reused a connection the router
 * closed: "EOF", "broken pipe"); the edge opening a new connection per request, 0 failed in 120 reloads.
 * A reload hands the router's unix socket to the new config (ROUTER_LISTEN), so a new connection is always accepted,
 * by the old server or by the new one, and the old server finishes what it accepted.
 *
 * The edge answers 503 + Retry-After + the back-off header when the router does not answer within the try duration
 * (while the container starts), like the router itself does when no instance answers. It changes only when
 * proxy.retry_after or proxy.backoff_header change; then it is reloaded through its own admin address.
 */
import { type CaddyJson, caddyServerConfig } from './caddy-answers.js';
import { type CaddyConfigInput, DIAL_TIMEOUT_MS, PROXY_CONTAINER_PORT, ROUTER_LISTEN, TRY_DURATION_MS, TRY_INTERVAL_MS, duration } from './caddy-config.js';

/**
 * Caddy before 2.7 buffers a request body with `buffer_requests` (no size limit); 2.7 and later with
 * `request_buffers: <bytes>` and reject the old field, as 2.6 rejects the new one. So boxship writes one edge config
 * per syntax and the container's supervisor (commands.ts) loads the one its `caddy version` reads.
 */
export type EdgeSyntax = 'caddy-2.6' | 'caddy-2.7+';

/**
 * A sh line that sets `variable` to the config file of the running Caddy's syntax: the Debian build says `2.6.2`,
 * official builds `v2.11.4 h1:...`. Shared by the proxy's supervisor and the server edge's (edge/commands.ts).
 */
export function pickBySyntax(variable: string, files: Record<EdgeSyntax, string>): string {
  return `case "$(caddy version 2>/dev/null)" in v2.[0-6].*|2.[0-6].*) ${variable}=${files['caddy-2.6']};; *) ${variable}=${files['caddy-2.7+']};; esac`;
}
export const EDGE_CONFIG_FILES: Record<EdgeSyntax, string> = { 'caddy-2.6': 'edge-2.6.json', 'caddy-2.7+': 'edge.json' };
/** Inside the container: the path of the edge config the supervisor chose (its reload uses the same file). */
export const EDGE_CHOICE_FILE = '/tmp/boxship-edge-config';
/** The edge's admin API (loopback in the container): used only to reload the edge after a proxy setting changed. */
export const EDGE_ADMIN_LISTEN = 'localhost:2020';
/** Request bodies up to this size (Content-Length, in bytes: at most 5 digits) are buffered by the edge (see below). */
const EDGE_BUFFERED_BODY_DIGITS = 5;
/**
 * Labels the proxy container with how its processes are laid out, so a container started by an older boxship (one
 * Caddy on port 80, no edge) is recognised and replaced instead of being sent an edge reload it has no process for.
 */
export const PROXY_LAYOUT_LABEL = 'dev.boxship.proxy-layout';
export const PROXY_LAYOUT = 'edge+router';

/** The edge depends only on how its 503 answers look. */
export type EdgeConfigInput = Pick<CaddyConfigInput, 'retryAfterSeconds' | 'backoffHeader'>;

/** Requests whose body is small enough to be read whole before it is sent on (see edgeConfig for why). */
export const SMALL_BODY = { header_regexp: { 'Content-Length': { pattern: `^[0-9]{1,${EDGE_BUFFERED_BODY_DIGITS}}$` } } };

/** The reverse_proxy fields that read such a body whole, in the syntax of the Caddy that loads the config. */
export function bodyBuffering(syntax: EdgeSyntax | undefined): Record<string, unknown> {
  if (syntax === 'caddy-2.6') return { buffer_requests: true };
  if (syntax === 'caddy-2.7+') return { request_buffers: 10 ** EDGE_BUFFERED_BODY_DIGITS };
  return {};
}

/**
 * To a router's unix socket, a new connection per request: a reload closes the router's idle connections, and a
 * request sent on one of them is lost (measured above). A unix-socket connect costs microseconds. The server edge
 * (edge/caddy.ts) dials the routers the same way.
 */
export const FRESH_CONNECTION_TRANSPORT = { protocol: 'http', dial_timeout: duration(DIAL_TIMEOUT_MS), keep_alive: { enabled: false } };

function toRouter(opts: { buffered?: EdgeSyntax }): Record<string, unknown> {
  return {
    handler: 'reverse_proxy',
    upstreams: [{ dial: ROUTER_LISTEN }],
    ...bodyBuffering(opts.buffered),
    // A buffered body is retried by no one: Caddy 2.6.2 hands the buffer back to a shared pool after the first
    // attempt, so a retry could send another request's body. The router only refuses connections while the container
    // starts; then such a request gets the 503 + Retry-After at once, while other requests wait for the router.
    load_balancing: opts.buffered ? {} : { try_duration: duration(TRY_DURATION_MS), try_interval: duration(TRY_INTERVAL_MS) },
    transport: FRESH_CONNECTION_TRANSPORT,
  };
}

/**
 * The edge's Caddy config: every request to the router, a fresh connection each (see above).
 *
 * Requests with a small body (Content-Length of at most EDGE_BUFFERED_BODY_DIGITS digits) are read whole before they
 * are sent on. Go's HTTP/1 server (Caddy's) closes a request's body as soon as the handler writes the response
 * headers; when the router answers within microseconds of the last body byte, that can happen before the edge's
 * transport has read the body's end, the transport sees "read on closed body", closes its connection to the router,
 * and the client gets the status line and an empty or cut body (caddyserver/caddy#5431). Measured through the proxy
 * container (4 keep-alive clients, POSTs of 492 bytes, app answering chunked): streaming, 20 of 5,907 POSTs got an
 * empty 200 on 2.6.2 and some were cut on 2.11.4; buffered, 0 of 3,244. Larger uploads stream as before (the router
 * cannot answer them before they arrive, unless the app answers early, which breaks the same way with one proxy).
 */
export function edgeConfig(input: EdgeConfigInput, syntax: EdgeSyntax): CaddyJson {
  const routes = [
    { match: [SMALL_BODY], handle: [toRouter({ buffered: syntax })], terminal: true },
    { handle: [toRouter({})], terminal: true },
  ];
  return caddyServerConfig({ adminListen: EDGE_ADMIN_LISTEN, name: 'edge', listen: `:${PROXY_CONTAINER_PORT}`, routes }, input);
}

export function edgeConfigText(input: EdgeConfigInput, syntax: EdgeSyntax): string {
  return `${JSON.stringify(edgeConfig(input, syntax), null, 2)}\n`;
}
