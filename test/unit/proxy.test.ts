import { describe, expect, it } from 'vitest';
import { toShell } from '../../src/hosts/command.js';
import { CADDY_CONFIG_PATH, PROXY_HEALTH_PATH, escapePlaceholders, maintenanceFiles, type CaddyRoute } from '../../src/proxy/caddy-answers.js';
import {
  caddyConfig,
  caddyConfigText,
  duration,
  healthTiming,
  liveMarker,
  MAX_ROUTED_INSTANCES,
  upstreamName,
  upstreamNames,
  type CaddyConfigInput,
} from '../../src/proxy/caddy-config.js';
import {
  applyProxyMode,
  currentLayout,
  PROXY_SUPERVISOR,
  parseProxyState,
  setLiveColour,
  syncLiveColours,
  parseUpstreams,
  probeUpstream,
  proxyUpstreams,
  publishSpec,
  reloadProxy,
  startProxy,
  writeProxyConfig,
} from '../../src/proxy/commands.js';

const base: CaddyConfigInput = {
  service: 'hello',
  instances: 2,
  appPort: 3000,
  healthPath: '/health',
  healthIntervalMs: 500,
  healthTimeoutMs: 2000,
  retryAfterSeconds: 5,
  backoffHeader: 'X-Backoff',
};

function server(input: CaddyConfigInput) {
  return caddyConfig(input).apps.http.servers.boxship!;
}

/** A Caddy handler read loosely: the tests reach into whatever fields it has. */
// biome-ignore lint/suspicious/noExplicitAny: Caddy JSON is untyped here; the assertions check its shape.
type Loose = Record<string, any>;

/** Every handler named `name` in a route list, depth first (subroutes included). */
function handlers(routes: CaddyRoute[], name: string): Loose[] {
  const found: Loose[] = [];
  const walk = (rs: CaddyRoute[]) => {
    for (const r of rs)
      for (const h of r.handle as Loose[]) {
        if (h.handler === name) found.push(h);
        if (h.handler === 'subroute') walk(h.routes);
      }
  };
  walk(routes);
  return found;
}

/** The first handler named `name`, depth first. */
function handler(routes: CaddyRoute[], name: string): Loose {
  const [h] = handlers(routes, name);
  if (!h) throw new Error(`no ${name} handler`);
  return h;
}

/** The traffic route (after health and maintenance). */
function trafficRoute(input: CaddyConfigInput): CaddyRoute {
  return server(input).routes[2]!;
}

describe('upstream names', () => {
  it('names each slot and colour', () => {
    expect(upstreamName('hello', 1, 'blue')).toBe('hello-1-blue');
    expect(upstreamName('hello', 3, 'green')).toBe('hello-3-green');
    expect(upstreamNames('hello', 2)).toEqual(['hello-1-blue', 'hello-1-green', 'hello-2-blue', 'hello-2-green']);
  });
});

describe('caddy config: serving', () => {
  it('keeps the admin API on localhost inside the container, without autosave', () => {
    const c = caddyConfig(base);
    expect(c.admin).toEqual({ listen: 'localhost:2019', config: { persist: false } });
    expect(CADDY_CONFIG_PATH).toBe('/etc/boxship/caddy.json');
  });

  it('listens on the router socket only (the edge holds :80), without automatic HTTPS', () => {
    const s = server(base);
    expect(s.listen).toEqual(['unix//tmp/boxship-router.sock']);
    expect(s.automatic_https).toEqual({ disable: true });
  });

  it('answers the proxy health route first, in plain text', () => {
    const first = server(base).routes[0]!;
    expect(first.match).toEqual([{ path: [PROXY_HEALTH_PATH] }]);
    expect(first.terminal).toBe(true);
    expect(first.handle[0]).toMatchObject({ handler: 'static_response', status_code: 200, body: 'ok\n' });
    expect(PROXY_HEALTH_PATH).toBe('/__boxship/health');
  });

  it('routes each slot to the colour its marker file names, one file test per slot, one proxy per combination', () => {
    const tree = trafficRoute(base);
    expect(tree.match).toBeUndefined();
    expect(tree.terminal).toBe(true);
    const slot1 = tree.handle[0] as { handler: string; routes: CaddyRoute[] };
    expect(slot1.handler).toBe('subroute');
    expect(slot1.routes.map((r) => r.match)).toEqual([[{ file: { root: '/etc/boxship', try_files: ['/live/1-green'] } }], undefined]);
    expect(slot1.routes.every((r) => r.terminal)).toBe(true);
    const slot2 = slot1.routes[0]!.handle[0] as { handler: string; routes: CaddyRoute[] };
    expect(slot2.routes[0]!.match).toEqual([{ file: { root: '/etc/boxship', try_files: ['/live/2-green'] } }]);
    // Leaves in order: (1 green, 2 green), (1 green, 2 blue), (1 blue, 2 green), (1 blue, 2 blue).
    expect(handlers([tree], 'reverse_proxy').map((rp) => rp.upstreams.map((u: { dial: string }) => u.dial))).toEqual([
      ['hello-1-green:3000', 'hello-2-green:3000'],
      ['hello-1-green:3000', 'hello-2-blue:3000'],
      ['hello-1-blue:3000', 'hello-2-green:3000'],
      ['hello-1-blue:3000', 'hello-2-blue:3000'],
    ]);
    expect(liveMarker(2)).toBe('live/2-green');
    expect(handlers([trafficRoute({ ...base, instances: 1, appPort: 8000 })], 'reverse_proxy').map((rp) => rp.upstreams)).toEqual([
      [{ dial: 'hello-1-green:8000' }],
      [{ dial: 'hello-1-blue:8000' }],
    ]);
    expect(handlers([trafficRoute({ ...base, instances: MAX_ROUTED_INSTANCES })], 'reverse_proxy')).toHaveLength(2 ** MAX_ROUTED_INSTANCES);
  });

  it('beyond MAX_ROUTED_INSTANCES slots proxies to every slot in both colours, without markers', () => {
    const many = trafficRoute({ ...base, instances: MAX_ROUTED_INSTANCES + 1 });
    expect(many.handle).toHaveLength(1);
    expect(many.handle[0]!.handler).toBe('reverse_proxy');
    expect((many.handle[0] as Loose).upstreams).toHaveLength(2 * (MAX_ROUTED_INSTANCES + 1));
    expect(JSON.stringify(many)).not.toContain('/live/');
  });

  it('balances over healthy upstreams and retries failed dials for a while', () => {
    const rp = handler(server(base).routes, 'reverse_proxy');
    expect(rp.load_balancing).toEqual({ selection_policy: { policy: 'least_conn' }, try_duration: '3s', try_interval: '50ms' });
    expect(handler(server({ ...base, selectionPolicy: 'round_robin' }).routes, 'reverse_proxy').load_balancing.selection_policy).toEqual({
      policy: 'round_robin',
    });
    expect(rp.transport).toEqual({ protocol: 'http', dial_timeout: '500ms' });
  });

  it('checks health actively on the app health path, at most every second, and has no passive checks', () => {
    const rp = handler(server(base).routes, 'reverse_proxy');
    expect(rp.health_checks).toEqual({ active: { uri: '/health', interval: '500ms', timeout: '500ms' } });
    const slow = handler(server({ ...base, healthIntervalMs: 10_000, healthTimeoutMs: 300 }).routes, 'reverse_proxy');
    expect(slow.health_checks.active).toEqual({ uri: '/health', interval: '1s', timeout: '300ms' });
    const otherPort = handler(server({ ...base, healthPort: 9000 }).routes, 'reverse_proxy');
    expect(otherPort.health_checks.active.port).toBe(9000);
    expect(handler(server({ ...base, healthPort: 3000 }).routes, 'reverse_proxy').health_checks.active.port).toBeUndefined();
    expect(healthTiming(200, 150)).toEqual({ intervalMs: 200, timeoutMs: 150 });
  });

  it('turns every proxy error into a 503 with Retry-After and the back-off header, JSON when asked', () => {
    const routes = server(base).errors!.routes;
    expect(routes).toHaveLength(2);
    const [json, text] = routes;
    expect(json!.match).toEqual([{ header_regexp: { Accept: { pattern: '(?i)json' } } }]);
    expect(json!.handle[0]).toEqual({
      handler: 'static_response',
      status_code: 503,
      headers: { 'Content-Type': ['application/json'], 'Retry-After': ['5'], 'X-Backoff': ['5'], 'Cache-Control': ['no-store'] },
      body: '\\{"error":"service unavailable","retry_after":5\\}\n',
    });
    expect(text!.match).toBeUndefined();
    expect(text!.handle[0]).toEqual({
      handler: 'static_response',
      status_code: 503,
      headers: { 'Content-Type': ['text/plain; charset=utf-8'], 'Retry-After': ['5'], 'X-Backoff': ['5'], 'Cache-Control': ['no-store'] },
      body: 'service unavailable\n',
    });
  });

  it('uses the configured back-off header name', () => {
    const h = server({ ...base, backoffHeader: 'X-Slow-Down', retryAfterSeconds: 9 }).errors!.routes[1]!.handle[0] as Loose;
    expect(h.headers['X-Slow-Down']).toEqual(['9']);
    expect(h.headers['Retry-After']).toEqual(['9']);
  });

  it('rejects what would make a broken config', () => {
    expect(() => caddyConfig({ ...base, instances: 0 })).toThrow(/instances/);
    expect(() => caddyConfig({ ...base, service: 'Hello' })).toThrow(/service/);
    expect(() => caddyConfig({ ...base, backoffHeader: 'X Backoff' })).toThrow(/header/);
    expect(() => caddyConfig({ ...base, healthPath: 'health' })).toThrow(/healthPath/);
    expect(() => caddyConfig({ ...base, service: 'x'.repeat(60) })).toThrow(/DNS label/);
  });
});

describe('caddy config: maintenance', () => {
  it('is the same config in both modes: a per-request test of the switch file, after the proxy health route', () => {
    const s = server(base);
    expect(s.routes).toHaveLength(3);
    expect(s.routes[0]!.match).toEqual([{ path: ['/__boxship/health'] }]);
    const m = s.routes[1]!;
    expect(m.match).toEqual([{ file: { root: '/etc/boxship', try_files: ['/maintenance/on'] } }]);
    expect(m.terminal).toBe(true);
    expect(JSON.stringify(m)).not.toContain('reverse_proxy');
  });

  it("answers 503 with the files' message and Retry-After through a templates handler, JSON when asked", () => {
    const [templates, sub] = server({ ...base, backoffHeader: 'X-Slow-Down' }).routes[1]!.handle as Loose[];
    expect(templates).toEqual({ handler: 'templates', file_root: '/etc/boxship/maintenance', mime_types: ['text/plain', 'application/json'] });
    expect(sub!.handler).toBe('subroute');
    const [json, text] = sub!.routes as CaddyRoute[];
    expect(json!.match).toEqual([{ header_regexp: { Accept: { pattern: '(?i)json' } } }]);
    const set = '\\{\\{$r := include "retry-after"\\}\\}\\{\\{.RespHeader.Set "Retry-After" $r\\}\\}\\{\\{.RespHeader.Set "X-Slow-Down" $r\\}\\}';
    expect(json!.handle[0]).toEqual({
      handler: 'static_response',
      status_code: 503,
      headers: { 'Content-Type': ['application/json'], 'Cache-Control': ['no-store'] },
      body: `${set}\\{\\{include "message.json"\\}\\}\n`,
    });
    expect(text!.match).toBeUndefined();
    expect(text!.handle[0]).toEqual({
      handler: 'static_response',
      status_code: 503,
      headers: { 'Content-Type': ['text/plain; charset=utf-8'], 'Cache-Control': ['no-store'] },
      body: `${set}\\{\\{include "message.txt"\\}\\}\n`,
    });
  });

  it('writes the message, as text and as JSON, and Retry-After into files', () => {
    expect(maintenanceFiles({ kind: 'maintenance', retryAfterSeconds: 120, message: 'Back at {noon} "soon"' })).toEqual({
      retryAfter: '120',
      text: 'Back at {noon} "soon"',
      json: '{"error":"maintenance","message":"Back at {noon} \\"soon\\"","retry_after":120}',
    });
    expect(() => maintenanceFiles({ kind: 'maintenance', retryAfterSeconds: 1.5, message: '' })).toThrow(/whole seconds/);
  });

  it('escapes template actions in the message files, which `include` runs as templates', () => {
    const files = maintenanceFiles({ kind: 'maintenance', retryAfterSeconds: 5, message: '{{env "HOME"}} {{{x' });
    expect(files.text).toBe('{{"{{"}}env "HOME"}} {{"{{"}}{x');
    expect(files.json).toBe('{"error":"maintenance","message":"{{"{{"}}env \\"HOME\\"}} {{"{{"}}{x","retry_after":5}');
  });

  it('escapes braces so that Caddy does not expand placeholders in bodies', () => {
    expect(escapePlaceholders('{http.request.uri} a\\{b}')).toBe('\\{http.request.uri\\} a\\\\{b\\}');
  });

  it('is JSON text ending in a newline', () => {
    const text = caddyConfigText(base);
    expect(JSON.parse(text)).toEqual(caddyConfig(base));
    expect(text.endsWith('\n')).toBe(true);
  });
});

describe('durations', () => {
  it('writes whole seconds as s, the rest as ms', () => {
    expect(duration(3000)).toBe('3s');
    expect(duration(500)).toBe('500ms');
    expect(duration(1500)).toBe('1500ms');
  });
});

describe('proxy commands', () => {
  it('writes the config atomically from stdin', () => {
    const c = writeProxyConfig('.boxship/hello/proxy');
    expect(c.argv).toEqual(['sh', '-c', 'mkdir -p "$(dirname "$1")" && cat > "$1.tmp" && mv "$1.tmp" "$1"', 'sh', '.boxship/hello/proxy/caddy.json']);
  });

  it('starts the proxy with the config folder mounted read-only and only the proxy port published', () => {
    const c = startProxy({
      service: 'hello',
      network: 'hello',
      image: 'boxship-proxy:caddy-2.6.2',
      bind: '127.0.0.1',
      port: 8080,
      hostDir: '.boxship/hello/proxy',
    });
    expect(c.argv.slice(4)).toEqual([
      '.boxship/hello/proxy',
      'hello-proxy',
      'hello',
      'edge+router',
      'boxship-proxy:caddy-2.6.2',
      PROXY_SUPERVISOR,
      '-p',
      '127.0.0.1:8080:80',
    ]);
    const body = c.argv[2]!;
    expect(body).toContain('dir=$(cd "$1" && pwd -P)');
    expect(body).toContain(
      'docker run -d --pull never --name "$name" --network "$network" --restart unless-stopped --label dev.boxship.proxy-layout="$layout" "$@" -v "$dir:/etc/boxship:ro" --entrypoint /bin/sh "$image" -c "$supervisor"',
    );
    // With proxy.hosts and no proxy.port: no port, the edge's volume, and a layout that says so.
    const edge = startProxy({
      service: 'hello',
      network: 'hello',
      image: 'boxship-proxy:caddy-2.6.2',
      bind: '0.0.0.0',
      edge: true,
      hostDir: '.boxship/hello/proxy',
    });
    expect(edge.argv.slice(7)).toEqual(['edge+router+edge-socket', 'boxship-proxy:caddy-2.6.2', PROXY_SUPERVISOR, '-v', 'boxship-edge:/run/boxship-edge']);
    expect(body).not.toContain('2019');
    expect(publishSpec('::', 80)).toBe('[::]:80:80');
  });

  it('reloads and probes through docker exec, with only caddy and wget in the container', () => {
    expect(reloadProxy('hello').argv).toEqual(['docker', 'exec', 'hello-proxy', 'caddy', 'reload', '--config', '/etc/boxship/caddy.json']);
    expect(toShell(probeUpstream('hello', 'hello-1-green', 3000, '/health', 2000))).toBe(
      'docker exec hello-proxy wget -q -O /dev/null -T 2 http://hello-1-green:3000/health',
    );
    expect(probeUpstream('hello', 'hello-1-green', 3000, '/health', 300).argv).toContain('1');
    expect(proxyUpstreams('hello').argv).toEqual([
      'docker',
      'exec',
      'hello-proxy',
      'wget',
      '-q',
      '-O',
      '-',
      '-T',
      '2',
      'http://localhost:2019/reverse_proxy/upstreams',
    ]);
  });

  it('switches maintenance and slot colours with files, never the config', () => {
    expect(applyProxyMode('.boxship/hello/proxy', { kind: 'serving' }).argv).toEqual(['sh', '-c', 'rm -f "$1/on"', 'sh', '.boxship/hello/proxy/maintenance']);
    const on = applyProxyMode('.boxship/hello/proxy', { kind: 'maintenance', retryAfterSeconds: 30, message: 'Back at noon' });
    expect(on.argv).toEqual([
      'sh',
      '-c',
      'mkdir -p "$1" && printf %s "$2" > "$1/retry-after.tmp" && mv "$1/retry-after.tmp" "$1/retry-after" && printf %s "$3" > "$1/message.txt.tmp" && mv "$1/message.txt.tmp" "$1/message.txt" && printf %s "$4" > "$1/message.json.tmp" && mv "$1/message.json.tmp" "$1/message.json" && : > "$1/on"',
      'sh',
      '.boxship/hello/proxy/maintenance',
      '30',
      'Back at noon',
      '{"error":"maintenance","message":"Back at noon","retry_after":30}',
    ]);
    expect(setLiveColour('/home/d/.boxship/hello/proxy', 2, 'green').argv).toEqual([
      'sh',
      '-c',
      'mkdir -p "$1/live" && case "$3" in green) : > "$1/live/$2-green";; *) rm -f "$1/live/$2-green";; esac',
      'sh',
      '/home/d/.boxship/hello/proxy',
      '2',
      'green',
    ]);
    const sync = syncLiveColours('hello', '.boxship/hello/proxy', 2, { service: 'dev.boxship.service', colour: 'dev.boxship.colour' });
    expect(sync.argv.slice(3)).toEqual(['sh', '.boxship/hello/proxy', 'hello', '2']);
    expect(sync.argv[2]).toContain(`docker ps -a --filter "label=dev.boxship.service=$2" --format '{{.Names}} {{.Label "dev.boxship.colour"}}'`);
  });

  it('parses the upstream list of Caddy 2.6.2 and the container state', () => {
    const text = '[{"address":"hello-1-green:3000","num_requests":0,"fails":0},{"address":"hello-1-blue:3000","num_requests":2,"fails":1}]';
    expect(parseUpstreams(text)).toEqual([
      { address: 'hello-1-blue:3000', numRequests: 2, fails: 1 },
      { address: 'hello-1-green:3000', numRequests: 0, fails: 0 },
    ]);
    expect(parseProxyState('missing\n')).toEqual({ status: 'missing' });
    expect(parseProxyState('running boxship-proxy:caddy-2.6.2 edge+router\n')).toEqual({
      status: 'running',
      image: 'boxship-proxy:caddy-2.6.2',
      layout: 'edge+router',
    });
    // A container started by a boxship without the edge has no layout label: it is replaced, not reloaded.
    const old = parseProxyState('running boxship-proxy:caddy-2.6.2 <no value>\n');
    expect(old).toEqual({ status: 'running', image: 'boxship-proxy:caddy-2.6.2', layout: '' });
    expect(currentLayout(old)).toBe(false);
    expect(currentLayout(parseProxyState('exited caddy:2 edge+router'))).toBe(true);
    expect(currentLayout(parseProxyState('missing'))).toBe(true);
  });
});
