/**
 * The ACME harness (test/helpers/pebble.ts) end to end, before any edge test leans on it: Caddy in the default proxy
 * image on test host a gets a real certificate from this slot's pebble by HTTP-01 (pebble connects to host a's port
 * 80), and a client on the machine that trusts only pebble's root verifies chain and name. A second name that pebble's
 * DNS does not know must get no certificate: the proof that validation really happens (no PEBBLE_VA_ALWAYS_VALID).
 */
import { execFileSync } from 'node:child_process';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOSTS, rememberedSlot } from '../helpers/paths.js';
import { type Pebble, startPebble } from '../helpers/pebble.js';
import { onHost } from '../helpers/run.js';
import { testnetAddress } from '../helpers/swarm.js';

const IMAGE = 'boxship-proxy:caddy-2.6.2';
const HOST = HOSTS[0];
const SLOT = rememberedSlot() ?? 0;
const NAME = `t1.${SLOT}.test`;
/** Never added to pebble's DNS: its HTTP-01 validation has nowhere to go. */
const UNKNOWN = `t2.${SLOT}.test`;
const CONTAINER = 'bx-pebble-caddy';
const DIR = '/root/bx-pebble-test';

/** Puts a file on the test host (docker exec, the test's own channel, not boxship's). */
function putOnHost(path: string, content: string): void {
  execFileSync('docker', ['exec', '-i', HOST.container, 'sh', '-c', `mkdir -p "$(dirname "${path}")" && cat > "${path}"`], { input: content });
}

/** GET https://<name>/ with the name resolved to `ip` (like curl --resolve) and only `ca` trusted. */
function get(name: string, ip: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: name,
        port: 443,
        path: '/',
        ca,
        agent: false,
        timeout: 10_000,
        lookup: (_h, opts, cb) =>
          (opts as { all?: boolean }).all
            ? (cb as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: ip, family: 4 }])
            : cb(null, ip, 4),
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

describe('pebble harness: a real ACME certificate by HTTP-01 on a test host', () => {
  let pebble: Pebble;
  let ip = '';
  let loadedImage = false;

  beforeAll(async () => {
    pebble = await startPebble(SLOT);
    ip = testnetAddress(HOST);
    await pebble.addName(NAME, ip);
    const have = await onHost(HOST.container, `docker image inspect ${IMAGE} >/dev/null 2>&1 && echo yes || true`);
    if (have.trim() !== 'yes') {
      execFileSync('sh', ['-c', `docker save ${IMAGE} | docker exec -i ${HOST.container} docker load >/dev/null`]);
      loadedImage = true;
    }
    await onHost(HOST.container, `docker rm -f ${CONTAINER} >/dev/null 2>&1; rm -rf ${DIR}; true`);
    putOnHost(`${DIR}/pebble-listener.pem`, readFileSync(pebble.listenerCaPath, 'utf8'));
    const issuer = {
      module: 'acme',
      ca: pebble.directoryUrl,
      trusted_roots_pem_files: ['/etc/bx/pebble-listener.pem'],
      email: 'ops@example.test',
      // HTTP-01 only: the challenge the edge answers on port 80.
      challenges: { 'tls-alpn': { disabled: true } },
    };
    const caddy = {
      admin: { disabled: true },
      apps: {
        http: {
          http_port: 80,
          https_port: 443,
          servers: {
            edge: {
              listen: [':443'],
              routes: [{ match: [{ host: [NAME, UNKNOWN] }], handle: [{ handler: 'static_response', body: 'edge {http.request.host}' }] }],
            },
          },
        },
        tls: { automation: { policies: [{ subjects: [NAME, UNKNOWN], issuers: [issuer] }] } },
      },
    };
    putOnHost(`${DIR}/caddy.json`, JSON.stringify(caddy));
    await onHost(
      HOST.container,
      `docker run -d --pull never --name ${CONTAINER} -p 80:80 -p 443:443 -v ${DIR}:/etc/bx:ro --entrypoint caddy ${IMAGE} run --config /etc/bx/caddy.json >/dev/null`,
    );
  });

  afterAll(async () => {
    await onHost(HOST.container, `docker rm -f ${CONTAINER} >/dev/null 2>&1; rm -rf ${DIR}; true`);
    if (loadedImage) await onHost(HOST.container, `docker rmi ${IMAGE} >/dev/null 2>&1; true`);
  });

  it('issues the known name a certificate a client verifies against the root, and none for a name pebble cannot reach', async () => {
    const before = pebble.orders();
    const failedBefore = pebble.log().match(/set INVALID by completed challenge/g)?.length ?? 0;
    const failed = () => (pebble.log().match(/set INVALID by completed challenge/g)?.length ?? 0) - failedBefore;
    const deadline = Date.now() + 90_000;
    while ((pebble.orders() === before || failed() === 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
    const caddyLog = () => onHost(HOST.container, `docker logs --tail 30 ${CONTAINER} 2>&1 || true`);
    expect(pebble.orders() - before, `no certificate within 90 s; caddy:\n${await caddyLog()}`).toBe(1);
    expect(failed(), 'the unknown name was never validated (and failed)').toBeGreaterThan(0);

    const root = await pebble.rootPem();
    const r = await get(NAME, ip, root);
    expect(r).toEqual({ status: 200, body: `edge ${NAME}` });
    // No certificate for the unknown name: the handshake fails (Caddy has nothing to serve, pebble refused it).
    await expect(get(UNKNOWN, ip, root)).rejects.toThrow();
    expect(pebble.orders() - before).toBe(1);
  });
});
