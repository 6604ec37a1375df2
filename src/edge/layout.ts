/**
 * Where the server's edge keeps things: one container and two volumes per server, shared by every boxship service
 * there, whoever deploys it. Volumes rather than a folder under a user's home: two services on one server may be
 * deployed by different SSH users, and each must reach the same routes (every write goes through `docker exec`).
 *
 * The routes are files the edge's Caddy looks up per request (edge/caddy.ts): adding or removing a service or a host
 * name writes files and reloads nothing, so no client of another service ever sees a reset.
 *
 *   EDGE_DIR/routes/<host>/site.json      the host name's TLS and redirect settings, and which service wrote them
 *   EDGE_DIR/routes/<host>/root           the service serving the name (its name is the file's text)
 *   EDGE_DIR/routes/<host>/root.sock      -> ../../sockets/<service>.sock, the socket the edge dials
 *   EDGE_DIR/routes/<host>/p-<segment>    the same two for requests whose path starts with /<segment>
 *   EDGE_DIR/routes/<host>/tls-auto       present: the edge may obtain a certificate for the name (on-demand TLS)
 *   EDGE_DIR/routes/<host>/redirect       present: plain HTTP is answered with a redirect to HTTPS
 *   EDGE_DIR/routes/<host>/hsts           present: HTTPS answers carry Strict-Transport-Security
 *   EDGE_DIR/sockets/<service>.sock       each service's router listens here too (its proxy mounts the volume)
 *   EDGE_DIR/certs/<host>.{crt,key}       certificate files from boxship.yml (tls: { cert_file, key_file })
 *   EDGE_DATA_DIR                          Caddy's storage: ACME account and certificates, kept across restarts
 */

export const EDGE_CONTAINER = 'boxship-edge';
export const EDGE_VOLUME = 'boxship-edge';
export const EDGE_DATA_VOLUME = 'boxship-edge-data';
export const EDGE_DIR = '/run/boxship-edge';
export const EDGE_DATA_DIR = '/var/lib/boxship-edge';
/** The edge's config, one file per Caddy syntax (see edge/caddy.ts); settings.json is what it was made from. */
export const EDGE_CONFIG_FILES = { 'caddy-2.6': `${EDGE_DIR}/edge-2.6.json`, 'caddy-2.7+': `${EDGE_DIR}/edge.json` } as const;
export const EDGE_SETTINGS_FILE = `${EDGE_DIR}/settings.json`;
export const EDGE_CA_ROOT_FILE = `${EDGE_DIR}/acme-ca-root.pem`;
/** Loopback in the edge container: the admin API (reloads, when a setting changes) and the on-demand TLS check. */
export const EDGE_ADMIN_LISTEN = 'localhost:2030';
export const EDGE_ASK_LISTEN = '127.0.0.1:2031';
/** Labels the edge container with the ports it publishes, so that a service asking for others is refused. */
export const EDGE_PORTS_LABEL = 'dev.boxship.edge-ports';

export const routesDir = (host: string) => `${EDGE_DIR}/routes/${host}`;
export const routerSocketDir = `${EDGE_DIR}/sockets`;
export const routerSocket = (service: string) => `${routerSocketDir}/${service}.sock`;
/** The route entry of a path prefix (`/api` -> `p-api`) or of the whole name. */
export const entryName = (pathPrefix?: string) => (pathPrefix ? `p-${pathPrefix.slice(1)}` : 'root');
