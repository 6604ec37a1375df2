/**
 * What the proxy answers by itself, not from an instance, and the Caddy JSON shell both of its processes run (the
 * router in caddy-config.ts, the edge in edge-config.ts): `/__boxship/health` (always 200, so an outer load balancer
 * keeps the host while it is in maintenance), maintenance mode's 503 read from files per request, and the 503 with
 * Retry-After and the back-off header whenever a handler fails. Apart from the router's routes and upstreams
 * because these answers are the same in every mode, at every swap, and on both backends.
 *
 * Maintenance mode is a file too (`maintenance/on`, checked per request), so turning it on or off changes no config
 * and reloads nothing: a reload would close idle keep-alive client connections. Its message and Retry-After are files
 * next to it, read by a `templates` handler (Caddy 2.6.2 has no {file.*} placeholder).
 *
 * When no upstream answers within the try duration (or in maintenance mode), clients get a 503 with Retry-After and
 * the configured back-off header, never a 502/504: a JSON body when their Accept header mentions json, text otherwise.
 */

/** Where the config file is inside the proxy container (its folder is the host's proxy dir, mounted read-only). */
export const CADDY_CONFIG_DIR = '/etc/boxship';
export const CADDY_CONFIG_PATH = `${CADDY_CONFIG_DIR}/caddy.json`;
/** Answers 200 `ok` whenever the proxy runs, in every mode. */
export const PROXY_HEALTH_PATH = '/__boxship/health';

export type ProxyMode = { kind: 'serving' } | { kind: 'maintenance'; retryAfterSeconds: number; message: string };

/** Folder (inside the proxy dir) of the maintenance switch and the answer's parts. */
export const MAINTENANCE_DIR = 'maintenance';
export const MAINTENANCE_FILES = { on: 'on', retryAfter: 'retry-after', text: 'message.txt', json: 'message.json' } as const;

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
          errors: { routes: CaddyRoute[] };
        }
      >;
    };
  };
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

export function healthRoute(): CaddyRoute {
  return {
    match: [{ path: [PROXY_HEALTH_PATH] }],
    handle: [
      { handler: 'static_response', status_code: 200, headers: { 'Content-Type': ['text/plain; charset=utf-8'], 'Cache-Control': ['no-store'] }, body: 'ok\n' },
    ],
    terminal: true,
  };
}

/** `file` matcher: does this file (relative to the proxy dir) exist right now? Checked per request, no reload. */
export function fileExists(relative: string): Record<string, unknown> {
  return { file: { root: CADDY_CONFIG_DIR, try_files: [`/${relative}`] } };
}

/**
 * Go template text (run by the templates handler) that sets Retry-After and the back-off header from the
 * `retry-after` file and writes the file `body` as the answer. Braces are escaped for Caddy's placeholder replacer,
 * which runs on static_response bodies before the template does; the files are written with their `{{` escaped
 * (maintenanceFiles), since `include` runs them as templates as well.
 */
function maintenanceTemplate(backoffHeader: string, body: string): string {
  const r = JSON.stringify(MAINTENANCE_FILES.retryAfter);
  return escapePlaceholders(
    `{{$r := include ${r}}}{{.RespHeader.Set "Retry-After" $r}}{{.RespHeader.Set ${JSON.stringify(backoffHeader)} $r}}{{include ${JSON.stringify(body)}}}\n`,
  );
}

/** While `maintenance/on` exists: 503 with the user's message and Retry-After, read from the files beside it. */
export function maintenanceRoute(backoffHeader: string): CaddyRoute {
  const answer = (type: string, body: string) => ({
    handler: 'static_response',
    status_code: 503,
    headers: { 'Content-Type': [type], 'Cache-Control': ['no-store'] },
    body: maintenanceTemplate(backoffHeader, body),
  });
  return {
    match: [fileExists(`${MAINTENANCE_DIR}/${MAINTENANCE_FILES.on}`)],
    handle: [
      { handler: 'templates', file_root: `${CADDY_CONFIG_DIR}/${MAINTENANCE_DIR}`, mime_types: ['text/plain', 'application/json'] },
      {
        handler: 'subroute',
        routes: [
          { match: [ACCEPTS_JSON], handle: [answer('application/json', MAINTENANCE_FILES.json)], terminal: true },
          { handle: [answer('text/plain; charset=utf-8', MAINTENANCE_FILES.text)], terminal: true },
        ],
      },
    ],
    terminal: true,
  };
}

/** The 503 + Retry-After + back-off answer given whenever a handler fails (no instance, no router). */
export function unavailableRoutes(retryAfterSeconds: number, backoffHeader: string): CaddyRoute[] {
  return unavailable(retryAfterSeconds, backoffHeader, { error: 'service unavailable', retry_after: retryAfterSeconds }, 'service unavailable');
}

/**
 * A whole Caddy config around one HTTP server, as both of the proxy's processes run it (the router here, the edge in
 * edge-config.ts): admin on loopback, not persisted, WARN logs, no automatic HTTPS, and the 503 + Retry-After +
 * back-off answers whenever a handler fails.
 */
export function caddyServerConfig(
  server: { adminListen: string; name: string; listen: string | string[]; routes: CaddyRoute[] },
  answers: { retryAfterSeconds: number; backoffHeader: string },
): CaddyJson {
  const { retryAfterSeconds, backoffHeader } = answers;
  return {
    admin: { listen: server.adminListen, config: { persist: false } },
    logging: { logs: { default: { level: 'WARN' } } },
    apps: {
      http: {
        servers: {
          [server.name]: {
            listen: typeof server.listen === 'string' ? [server.listen] : server.listen,
            automatic_https: { disable: true },
            routes: server.routes,
            errors: { routes: unavailableRoutes(retryAfterSeconds, backoffHeader) },
          },
        },
      },
    },
  };
}

/**
 * Caddy's `include` runs the included file as a template too (2.6.2 and 2.11.4 alike), so a message saying
 * `{{env "HOME"}}` would be evaluated. Every `{{` becomes an action printing `{{`, which leaves no other action in
 * the file: the answer is the message verbatim.
 */
function escapeTemplateActions(text: string): string {
  return text.replaceAll('{{', '{{"{{"}}');
}

/** The maintenance answer's files (MAINTENANCE_FILES), as written into the proxy dir's maintenance folder. */
export function maintenanceFiles(mode: Extract<ProxyMode, { kind: 'maintenance' }>): { retryAfter: string; text: string; json: string } {
  if (!Number.isInteger(mode.retryAfterSeconds) || mode.retryAfterSeconds < 0)
    throw new RangeError(`Retry-After must be whole seconds, got ${mode.retryAfterSeconds}`);
  return {
    retryAfter: String(mode.retryAfterSeconds),
    text: escapeTemplateActions(mode.message),
    json: escapeTemplateActions(JSON.stringify({ error: 'maintenance', message: mode.message, retry_after: mode.retryAfterSeconds })),
  };
}
