import { describe, expect, it } from 'vitest';
import { caddyServerConfig, fileExists, healthRoute, maintenanceRoute, PROXY_HEALTH_PATH } from '../../src/proxy/caddy-answers.js';

describe('the answers the proxy gives by itself', () => {
  it('answers 503 with Retry-After and the back-off header whenever a handler fails, JSON when Accept asks for it', () => {
    const config = caddyServerConfig(
      { adminListen: 'localhost:2019', name: 'edge', listen: ':80', routes: [] },
      { retryAfterSeconds: 7, backoffHeader: 'X-Slow' },
    );
    const server = config.apps.http.servers.edge!;
    expect(config.admin).toEqual({ listen: 'localhost:2019', config: { persist: false } });
    expect(server.automatic_https).toEqual({ disable: true });
    const [json, text] = server.errors.routes;
    expect(json!.match).toEqual([{ header_regexp: { Accept: { pattern: '(?i)json' } } }]);
    // Braces are escaped for Caddy's placeholder replacer, so the JSON body arrives as written.
    expect(json!.handle[0]).toMatchObject({
      status_code: 503,
      headers: { 'Content-Type': ['application/json'], 'Retry-After': ['7'], 'X-Slow': ['7'] },
      body: '\\{"error":"service unavailable","retry_after":7\\}\n',
    });
    expect(text!.match).toBeUndefined();
    expect(text!.handle[0]).toMatchObject({ status_code: 503, body: 'service unavailable\n' });
  });

  it('answers the health path 200 in every mode', () => {
    expect(healthRoute()).toMatchObject({ match: [{ path: [PROXY_HEALTH_PATH] }], handle: [{ status_code: 200, body: 'ok\n' }], terminal: true });
  });

  it('serves maintenance from the files while maintenance/on exists, with the back-off header set from retry-after', () => {
    const route = maintenanceRoute('X-Slow');
    expect(route.match).toEqual([fileExists('maintenance/on')]);
    expect(fileExists('maintenance/on')).toEqual({ file: { root: '/etc/boxship', try_files: ['/maintenance/on'] } });
    const answers = (route.handle[1] as { routes: { handle: { body: string }[] }[] }).routes.map((r) => r.handle[0]!.body);
    expect(answers).toEqual([
      '\\{\\{$r := include "retry-after"\\}\\}\\{\\{.RespHeader.Set "Retry-After" $r\\}\\}\\{\\{.RespHeader.Set "X-Slow" $r\\}\\}\\{\\{include "message.json"\\}\\}\n',
      '\\{\\{$r := include "retry-after"\\}\\}\\{\\{.RespHeader.Set "Retry-After" $r\\}\\}\\{\\{.RespHeader.Set "X-Slow" $r\\}\\}\\{\\{include "message.txt"\\}\\}\n',
    ]);
  });
});
