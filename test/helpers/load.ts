/**
 * A bounded HTTP load on loopback through the proxies: N keep-alive clients loop GET / until stopped, at most
 * `maxSeconds` and `maxRequests`; with `post`, each client alternates GET / and POST / with a 0.5 KB JSON body. Every
 * response and error is classified, so a test can assert "0 failed".
 */
import http from 'node:http';
import https from 'node:https';

/** A target by host name over HTTPS (the edge): connect to `ip`, send `name` as SNI and Host, trust only `ca`. */
export interface HttpsTarget {
  ip: string;
  name: string;
  ca: string;
  port?: number;
}
type Target = number | HttpsTarget;
const label = (t: Target) => (typeof t === 'number' ? `:${t}` : t.name);

export interface LoadStats {
  requests: number;
  ok: number;
  /** 503 answers that carry Retry-After and the backoff header: the designed answer while nothing is healthy. */
  backoff503: number;
  /** Anything else: connection errors, resets, timeouts, 502/504, a 503 without Retry-After. */
  failed: number;
  nonOkWithoutRetryAfter: number;
  failures: string[];
  versions: Record<string, number>;
  /** POSTs sent, and those not answered by the app itself (its echo): a 503 from the proxy counts, as does no answer. */
  postRequests: number;
  postNotOk: number;
  /** Requests that got no HTTP answer at all (reset, refused, timeout). */
  connectionErrors: number;
}

/** A 0.5 KB JSON body, like an API client's. */
const POST_BODY = JSON.stringify({
  kind: 'order',
  items: Array.from({ length: 12 }, (_, i) => ({ sku: `sku-${i}`, qty: i + 1, note: 'boxship load' })),
}).slice(0, 500);

export interface Load {
  stop(): Promise<LoadStats>;
  stats: LoadStats;
}

export function startLoad(
  ports: Target[],
  opts: { clients?: number; maxSeconds?: number; maxRequests?: number; backoffHeader?: string; pauseMs?: number; post?: boolean } = {},
): Load {
  const clients = opts.clients ?? 4;
  const deadline = Date.now() + (opts.maxSeconds ?? 120) * 1000;
  const maxRequests = opts.maxRequests ?? 200_000;
  const backoff = (opts.backoffHeader ?? 'X-Backoff').toLowerCase();
  const stats: LoadStats = {
    requests: 0,
    ok: 0,
    backoff503: 0,
    failed: 0,
    nonOkWithoutRetryAfter: 0,
    failures: [],
    versions: {},
    postRequests: 0,
    postNotOk: 0,
    connectionErrors: 0,
  };
  let stopping = false;
  const agents = ports.map((t) =>
    typeof t === 'number'
      ? new http.Agent({ keepAlive: true, maxSockets: clients })
      : new https.Agent({ keepAlive: true, maxSockets: clients, ca: t.ca, servername: t.name }),
  );

  const once = (port: Target, agent: http.Agent, post: boolean) =>
    new Promise<void>((resolve) => {
      if (post) stats.postRequests++;
      const headers = post ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(POST_BODY)) } : {};
      const where =
        typeof port === 'number'
          ? { lib: http, host: '127.0.0.1', port, headers }
          : { lib: https, host: port.ip, port: port.port ?? 443, headers: { ...headers, host: port.name }, servername: port.name };
      const { lib, ...target } = where;
      const req = lib.request({ method: post ? 'POST' : 'GET', path: '/', agent, timeout: 10_000, ...target }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => {
          stats.requests++;
          if (post) {
            let echoed = false;
            try {
              const b = JSON.parse(body) as { echo?: boolean; bytes?: number };
              echoed = res.statusCode === 200 && b.echo === true && b.bytes === Buffer.byteLength(POST_BODY);
            } catch {
              /* not the app's JSON */
            }
            if (!echoed) {
              stats.postNotOk++;
              if (stats.failures.length < 20) stats.failures.push(`${label(port)} POST HTTP ${res.statusCode} ${body.slice(0, 80)}`);
            }
          }
          if (res.statusCode === 200) {
            stats.ok++;
            try {
              const v = String((JSON.parse(body) as { version?: string }).version);
              stats.versions[v] = (stats.versions[v] ?? 0) + 1;
            } catch {
              /* not JSON: still a 200 */
            }
          } else if (res.statusCode === 503 && res.headers['retry-after'] && res.headers[backoff]) stats.backoff503++;
          else {
            stats.failed++;
            stats.nonOkWithoutRetryAfter++;
            if (stats.failures.length < 20) stats.failures.push(`${label(port)} HTTP ${res.statusCode} ${body.slice(0, 80)}`);
          }
          resolve();
        });
        res.on('error', (e) => fail(port, e, post, resolve));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e) => fail(port, e, post, resolve));
      req.end(post ? POST_BODY : undefined);
    });

  function fail(port: Target, e: Error, post: boolean, resolve: () => void): void {
    stats.requests++;
    stats.connectionErrors++;
    if (post) stats.postNotOk++;
    stats.failed++;
    stats.nonOkWithoutRetryAfter++;
    if (stats.failures.length < 20) stats.failures.push(`${new Date().toISOString().slice(11, 23)} ${label(port)} ${e.message}`);
    resolve();
  }

  const loops = ports.flatMap((port, i) =>
    Array.from({ length: clients }, async () => {
      let n = 0;
      while (!stopping && Date.now() < deadline && stats.requests < maxRequests) {
        await once(port, agents[i]!, opts.post === true && n++ % 2 === 1);
        if (opts.pauseMs) await new Promise((r) => setTimeout(r, opts.pauseMs));
      }
    }),
  );
  return {
    stats,
    async stop() {
      stopping = true;
      await Promise.all(loops);
      for (const a of agents) a.destroy();
      return stats;
    },
  };
}
