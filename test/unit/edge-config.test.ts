/**
 * The proxy's edge (src/proxy/edge-config.ts): the Caddy in front of the router that holds the client connections.
 * What it must do is checked with real containers in test/integration/proxy.test.ts; here, the exact config.
 */
import { describe, expect, it } from 'vitest';
import { caddyConfig, FORWARDED_FROM_EDGE, ROUTER_LISTEN } from '../../src/proxy/caddy-config.js';
import { reloadEdge, PROXY_SUPERVISOR, writeProxyConfig } from '../../src/proxy/commands.js';
import { EDGE_ADMIN_LISTEN, EDGE_CONFIG_FILES, edgeConfig } from '../../src/proxy/edge-config.js';

const input = { retryAfterSeconds: 7, backoffHeader: 'X-Backoff' };
const routesOf = (syntax: 'caddy-2.6' | 'caddy-2.7+') => edgeConfig(input, syntax).apps.http.servers.edge!.routes;

describe('proxy edge config', () => {
  it('listens on :80 and has its own admin address, apart from the router', () => {
    const c = edgeConfig(input, 'caddy-2.6');
    expect(c.apps.http.servers.edge!.listen).toEqual([':80']);
    expect(c.admin.listen).toBe(EDGE_ADMIN_LISTEN);
    expect(EDGE_ADMIN_LISTEN).not.toBe(
      caddyConfig({ service: 'hello', instances: 1, appPort: 3000, healthPath: '/health', healthIntervalMs: 1000, healthTimeoutMs: 1000, ...input }).admin
        .listen,
    );
  });

  it('sends every request to the router socket on a fresh connection (a router reload closes idle ones)', () => {
    for (const syntax of ['caddy-2.6', 'caddy-2.7+'] as const) {
      for (const route of routesOf(syntax)) {
        const proxy = route.handle[0] as { upstreams: unknown; transport: unknown };
        expect(proxy.upstreams).toEqual([{ dial: ROUTER_LISTEN }]);
        expect(proxy.transport).toEqual({ protocol: 'http', dial_timeout: '500ms', keep_alive: { enabled: false } });
      }
    }
  });

  it('buffers small bodies in the syntax of each Caddy, without retries; everything else streams with retries', () => {
    const [small26, rest26] = routesOf('caddy-2.6');
    expect(small26!.match).toEqual([{ header_regexp: { 'Content-Length': { pattern: '^[0-9]{1,5}$' } } }]);
    expect(small26!.handle[0]).toMatchObject({ buffer_requests: true, load_balancing: {} });
    expect(small26!.handle[0]).not.toHaveProperty('request_buffers');
    const [small27] = routesOf('caddy-2.7+');
    expect(small27!.handle[0]).toMatchObject({ request_buffers: 100000, load_balancing: {} });
    expect(small27!.handle[0]).not.toHaveProperty('buffer_requests');
    expect(rest26!.match).toBeUndefined();
    expect(rest26!.handle[0]).toMatchObject({ load_balancing: { try_duration: '3s', try_interval: '50ms' } });
    expect(rest26!.handle[0]).not.toHaveProperty('buffer_requests');
  });

  it('answers 503 with Retry-After and the back-off header when the router does not answer', () => {
    const errors = edgeConfig(input, 'caddy-2.7+').apps.http.servers.edge!.errors.routes;
    for (const r of errors) expect(r.handle[0]).toMatchObject({ status_code: 503, headers: { 'Retry-After': ['7'], 'X-Backoff': ['7'] } });
  });

  it('the router passes on the X-Forwarded-* headers the edge set', () => {
    expect(FORWARDED_FROM_EDGE.request.set).toEqual({
      'X-Forwarded-For': ['{http.request.header.X-Forwarded-For}'],
      'X-Forwarded-Proto': ['{http.request.header.X-Forwarded-Proto}'],
      'X-Forwarded-Host': ['{http.request.header.X-Forwarded-Host}'],
    });
  });
});

describe('proxy edge commands', () => {
  it('writes an edge config file atomically beside the router config', () => {
    const c = writeProxyConfig('.boxship/hello/proxy', EDGE_CONFIG_FILES['caddy-2.6']);
    expect(c.why).toBe('write the proxy config edge-2.6.json');
    expect(c.argv).toEqual(['sh', '-c', 'mkdir -p "$(dirname "$1")" && cat > "$1.tmp" && mv "$1.tmp" "$1"', 'sh', '.boxship/hello/proxy/edge-2.6.json']);
  });

  it('the supervisor picks the edge config by caddy version, runs both, and exits when either does', () => {
    expect(PROXY_SUPERVISOR.split('\n')).toEqual([
      'mkdir -p /run/boxship-edge/sockets',
      'case "$(caddy version 2>/dev/null)" in v2.[0-6].*|2.[0-6].*) e=/etc/boxship/edge-2.6.json;; *) e=/etc/boxship/edge.json;; esac',
      'echo "$e" > /tmp/boxship-edge-config',
      'caddy run --config /etc/boxship/caddy.json & router=$!',
      'caddy run --config "$e" & edge=$!',
      "trap 'kill -TERM $edge $router 2>/dev/null; wait; exit 0' TERM INT",
      'while kill -0 $edge 2>/dev/null && kill -0 $router 2>/dev/null; do sleep 1 & wait $!; done',
      'echo "boxship proxy: a caddy process exited; stopping the container so that Docker restarts both" >&2',
      'kill -TERM $edge $router 2>/dev/null; wait; exit 1',
    ]);
  });

  it('reloads the edge through its own admin address, with the file the supervisor chose', () => {
    expect(reloadEdge('hello').argv).toEqual([
      'docker',
      'exec',
      'hello-proxy',
      'sh',
      '-c',
      'caddy reload --config "$(cat /tmp/boxship-edge-config)" --address localhost:2020',
    ]);
  });
});
