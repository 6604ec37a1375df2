/**
 * Where the server's edge keeps things: its containers and two volumes per server, shared by every boxship service
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
 *   EDGE_DIR/slot                         the generation slot new connections go to (read by the ports holder)
 *   EDGE_DATA_DIR                          Caddy's storage: ACME account and certificates, kept across restarts
 *
 * Containers, so that the edge itself can be replaced without a lost request or a cut stream (edge/generation.ts):
 *   boxship-edge-ports            holds the network namespace and the published ports, and never changes (only when
 *                                 the ports do); its NAT sends new connections to the current generation's ports
 *   boxship-edge                  the current generation: Caddy in the holder's namespace, on its slot's ports
 *   boxship-edge-retiring-<slot>  an earlier generation: no new connection reaches it; it answers what it holds with
 *                                 `Connection: close` and stops once its last connection is gone (or after a bound)
 */

export const EDGE_CONTAINER = 'boxship-edge';
export const EDGE_PORTS_CONTAINER = 'boxship-edge-ports';
export const retiringName = (slot: number) => `boxship-edge-retiring-${slot}`;
/** Labels every edge container with its role (ports | generation), and each generation with its slot. */
export const EDGE_ROLE_LABEL = 'dev.boxship.edge-role';
export const EDGE_SLOT_LABEL = 'dev.boxship.edge-slot';
/** How many generations can run side by side (the current one and those still finishing their connections). */
export const EDGE_SLOTS = 8;
/**
 * The ports of a generation slot in the holder's namespace. The public ports are NATed there (edge/commands.ts), so
 * two generations never listen on the same port: the kernel would share new connections between them.
 */
export function slotPorts(slot: number) {
  return { http: 10080 + slot, https: 10443 + slot, admin: `localhost:${2040 + slot}`, ask: `127.0.0.1:${2060 + slot}` };
}
/** Present in a generation's own filesystem (not the shared volume): it is retiring (edge/caddy.ts). */
export const RETIRING_MARK = '/tmp/boxship-retiring';
/** A retiring generation waits at most this long for its last connection (a WebSocket may never end by itself). */
export const RETIRE_MAX_SECONDS = 3600;
export const EDGE_VOLUME = 'boxship-edge';
export const EDGE_DATA_VOLUME = 'boxship-edge-data';
export const EDGE_DIR = '/run/boxship-edge';
export const EDGE_DATA_DIR = '/var/lib/boxship-edge';
/** A generation's config, one file per Caddy syntax (see edge/caddy.ts); settings.json is what it was made from. */
export const edgeConfigFiles = (slot: number) => ({ 'caddy-2.6': `${EDGE_DIR}/edge-2.6-${slot}.json`, 'caddy-2.7+': `${EDGE_DIR}/edge-${slot}.json` }) as const;
export const EDGE_SETTINGS_FILE = `${EDGE_DIR}/settings.json`;
export const EDGE_SLOT_FILE = `${EDGE_DIR}/slot`;
export const EDGE_CA_ROOT_FILE = `${EDGE_DIR}/acme-ca-root.pem`;
/** Labels the ports holder with the ports it publishes, so that a service asking for others is refused. */
export const EDGE_PORTS_LABEL = 'dev.boxship.edge-ports';

export const routesDir = (host: string) => `${EDGE_DIR}/routes/${host}`;
export const routerSocketDir = `${EDGE_DIR}/sockets`;
export const routerSocket = (service: string) => `${routerSocketDir}/${service}.sock`;
/** The route entry of a path prefix (`/api` -> `p-api`) or of the whole name. */
export const entryName = (pathPrefix?: string) => (pathPrefix ? `p-${pathPrefix.slice(1)}` : 'root');
