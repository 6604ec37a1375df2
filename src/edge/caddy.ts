/**
 * The Caddy JSON config of the server's edge, a pure function of the server-wide settings (ports, the ACME CA) and of
 * the host names whose certificates cannot be obtained on demand (tls: internal, certificate files). Everything that
 * changes per service or per host name is a file the config looks up per request (edge/layout.ts), so routine
 * changes (a service or host name added or removed, a certificate obtained) reload nothing.
 *
 * - Routing: a `file` matcher finds `routes/{host}/p-{first path segment}`, then `routes/{host}/root`, and the
 *   reverse proxy dials the socket beside it (`unix/{matched file}.sock`), a new connection per request as the
 *   service proxy's own edge does (proxy/edge-config.ts: a router reload must never meet a kept-alive connection).
 * - TLS: on-demand issuance, allowed by the `ask` server (loopback only) when `routes/{domain}/tls-auto` exists; the
 *   certificate is kept in the data volume and renewed by Caddy. Setup triggers the first handshake itself, so a
 *   certificate is there before a client asks. Caddy answers HTTP-01 challenges on the HTTP port before any route,
 *   so they are answered in maintenance mode too.
 * - Generations (edge/layout.ts): each listens on its slot's ports, and while it retires (RETIRING_MARK in its own
 *   filesystem) answers with `Connection: close`, so a keep-alive client moves to the next generation after the answer
 *   it is waiting for, never in the middle of a request.
 * - Caddy 2.6 takes the on-demand check as `on_demand.ask`; 2.7 and later require `on_demand.permission` and refuse a
 *   config without one, as 2.6 refuses the new field: one file per syntax, the supervisor loads the right one.
 */
import { type CaddyRoute, unavailableRoutes } from '../proxy/caddy-answers.js';
import { bodyBuffering, type EdgeSyntax, FRESH_CONNECTION_TRANSPORT, SMALL_BODY } from '../proxy/edge-config.js';
import { EDGE_CA_ROOT_FILE, EDGE_DATA_DIR, EDGE_DIR, RETIRING_MARK, slotPorts } from './layout.js';

export interface EdgeSettings {
  httpPort: number;
  httpsPort: number;
  /** tls auto's CA; absent ca: Let's Encrypt. caRoot: EDGE_CA_ROOT_FILE holds the root of the CA's own endpoint. */
  acme: { ca?: string; email?: string; caRoot?: boolean };
  /** Host names with tls: internal (Caddy's local CA): an automation policy names them. */
  internal: string[];
  /** Host names with certificate files in EDGE_DIR/certs. */
  files: string[];
}

/** The edge's 503 when a service's router does not answer (its proxy restarting): the defaults of proxy.*. */
const EDGE_RETRY_AFTER_SECONDS = 5;
const EDGE_BACKOFF_HEADER = 'X-Backoff';
const LETS_ENCRYPT = 'https://acme-v02.api.letsencrypt.org/directory';

const routeFile = (candidates: string[]) => ({ file: { root: `${EDGE_DIR}/routes`, try_files: candidates } });
const ENTRIES = ['{http.request.host}/p-{http.request.uri.path.0}', '{http.request.host}/root'];

function toService(buffered: EdgeSyntax | undefined): Record<string, unknown> {
  return {
    handler: 'reverse_proxy',
    upstreams: [{ dial: 'unix/{http.matchers.file.absolute}.sock' }],
    // Small bodies are read whole first, for the reason proxy/edge-config.ts gives (caddyserver/caddy#5431).
    ...bodyBuffering(buffered),
    transport: FRESH_CONNECTION_TRANSPORT,
  };
}

function serviceRoutes(syntax: EdgeSyntax): CaddyRoute[] {
  return [
    { match: [{ ...routeFile(ENTRIES), ...SMALL_BODY }], handle: [toService(syntax)], terminal: true },
    { match: [routeFile(ENTRIES)], handle: [toService(undefined)], terminal: true },
    {
      handle: [
        { handler: 'static_response', status_code: 404, body: 'no service is served under this host name here\n', headers: { 'Content-Type': ['text/plain'] } },
      ],
      terminal: true,
    },
  ];
}

function httpsRedirect(httpsPort: number): CaddyRoute {
  const port = httpsPort === 443 ? '' : `:${httpsPort}`;
  return {
    match: [routeFile(['{http.request.host}/redirect'])],
    handle: [{ handler: 'static_response', status_code: 308, headers: { Location: [`https://{http.request.host}${port}{http.request.uri}`] } }],
    terminal: true,
  };
}

const [RETIRING_DIR, RETIRING_FILE] = [RETIRING_MARK.slice(0, RETIRING_MARK.lastIndexOf('/')), RETIRING_MARK.slice(RETIRING_MARK.lastIndexOf('/'))];
const RETIRING: CaddyRoute = {
  match: [{ file: { root: RETIRING_DIR, try_files: [RETIRING_FILE] } }],
  handle: [{ handler: 'headers', response: { set: { Connection: ['close'] } } }],
};

const HSTS: CaddyRoute = {
  match: [routeFile(['{http.request.host}/hsts'])],
  handle: [{ handler: 'headers', response: { set: { 'Strict-Transport-Security': ['max-age=31536000'] } } }],
};

function issuer(s: EdgeSettings): Record<string, unknown> {
  return {
    module: 'acme',
    ca: s.acme.ca ?? LETS_ENCRYPT,
    ...(s.acme.email ? { email: s.acme.email } : {}),
    ...(s.acme.caRoot ? { trusted_roots_pem_files: [EDGE_CA_ROOT_FILE] } : {}),
  };
}

export function edgeConfig(s: EdgeSettings, syntax: EdgeSyntax, slot: number): Record<string, unknown> {
  const own = slotPorts(slot);
  const ask = `http://${own.ask}/`;
  const errors = { routes: unavailableRoutes(EDGE_RETRY_AFTER_SECONDS, EDGE_BACKOFF_HEADER) };
  const files = [...s.files].sort();
  return {
    admin: { listen: own.admin, config: { persist: false } },
    logging: { logs: { default: { level: 'INFO' } } },
    storage: { module: 'file_system', root: EDGE_DATA_DIR },
    apps: {
      http: {
        // The slot's own ports: the public ones are NATed to them (ACME's HTTP-01 requests included).
        http_port: own.http,
        https_port: own.https,
        servers: {
          https: {
            listen: [`:${own.https}`],
            // HTTP/3 would need UDP published too, and an Alt-Svc for it would only send clients on a detour.
            protocols: ['h1', 'h2'],
            tls_connection_policies: [{}],
            automatic_https: { disable_redirects: true },
            routes: [RETIRING, HSTS, ...serviceRoutes(syntax)],
            errors,
          },
          http: {
            listen: [`:${own.http}`],
            protocols: ['h1'],
            automatic_https: { disable_redirects: true },
            routes: [RETIRING, httpsRedirect(s.httpsPort), ...serviceRoutes(syntax)],
            errors,
          },
          ask: {
            listen: [own.ask],
            protocols: ['h1'],
            automatic_https: { disable: true },
            routes: [
              { match: [routeFile(['{http.request.uri.query.domain}/tls-auto'])], handle: [{ handler: 'static_response', status_code: 200 }], terminal: true },
              { handle: [{ handler: 'static_response', status_code: 404 }] },
            ],
          },
        },
      },
      tls: {
        ...(files.length
          ? { certificates: { load_files: files.map((h) => ({ certificate: `${EDGE_DIR}/certs/${h}.crt`, key: `${EDGE_DIR}/certs/${h}.key` })) } }
          : {}),
        automation: {
          on_demand: syntax === 'caddy-2.6' ? { ask } : { permission: { module: 'http', endpoint: ask } },
          policies: [
            ...(s.internal.length ? [{ subjects: [...s.internal].sort(), issuers: [{ module: 'internal' }] }] : []),
            { on_demand: true, issuers: [issuer(s)] },
          ],
        },
      },
    },
  };
}

export function edgeConfigText(s: EdgeSettings, syntax: EdgeSyntax, slot: number): string {
  return `${JSON.stringify(edgeConfig(s, syntax, slot), null, 2)}\n`;
}
