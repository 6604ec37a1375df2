/**
 * HTTPS (and plain HTTP) requests to a test host's edge by host name: the name is sent as SNI and Host while the
 * connection goes to the host's address on the test network (like curl --resolve), and only the given CA is trusted,
 * so a passing request proves the chain and the name.
 */
import http from 'node:http';
import https from 'node:https';

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export function request(o: {
  ip: string;
  name: string;
  ca?: string;
  port?: number;
  path?: string;
  method?: string;
  body?: string;
  plain?: boolean;
  agent?: http.Agent | false;
}): Promise<Answer> {
  const lib = o.plain ? http : https;
  return new Promise((resolve, reject) => {
    const req = lib.request(
      {
        host: o.ip,
        port: o.port ?? (o.plain ? 80 : 443),
        path: o.path ?? '/',
        method: o.method ?? 'GET',
        headers: { Host: o.name, ...(o.body ? { 'Content-Type': 'application/json' } : {}) },
        ...(o.plain ? {} : { servername: o.name, ca: o.ca }),
        agent: o.agent ?? false,
        timeout: 15_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout: ${o.name} at ${o.ip}`)));
    req.on('error', reject);
    req.end(o.body);
  });
}
