/**
 * npm run bench:edge — the server's edge on one simulated host, certificates from this slot's pebble by HTTP-01:
 * 1. two services (two app folders) by host name over HTTPS, each under a steady keep-alive GET + POST load;
 * 2. a rollout and a rollback of the first: its own failed requests, and the other's (must both be 0);
 * 3. a third service added (deployed) and taken off the edge again, under the same load: failed on the first two;
 * 4. pebble's orders against the host names: one certificate each, however many deploys and restarts;
 * 5. the edge's requests/s against a bare Caddy serving the same instance over TLS on the same host (same
 *    certificate, keep-alive to the app), bounded keep-alive load, one run each, back to back.
 * 6. WebSocket streams held open to both services throughout 2-3 and 7: one cut early is a stream of the second
 *    service that ended at all, or one of the first that ended without the app's 1012 close (each of those is reopened).
 * 7. the edge upgraded in place under the same load on both services (Caddy 2.6.2 -> 2.11.4 by proxy.edge.image, then
 *    back): failed requests on both (edge_upgrade_failed), and the streams of 6 across it.
 * Prints RESULT last.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { makeExampleApp, type ExampleApp } from '../test/helpers/example.js';
import { type HttpsTarget, type LoadStats, startLoad } from '../test/helpers/load.js';
import { HOSTS, HOST_SPECS, REPO, rememberedSlot } from '../test/helpers/paths.js';
import { startPebble } from '../test/helpers/pebble.js';
import { onHost, timedBoxship, wipeHost } from '../test/helpers/run.js';
import { testnetAddress } from '../test/helpers/swarm.js';
import { openStream, type Stream } from '../test/helpers/websocket.js';

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const HOST = HOSTS[0];
const BARE = 'bx-bench-bare-caddy';
const BARE_PORT = 8443;

async function main(): Promise<void> {
  execFileSync('bash', ['scripts/test-hosts.sh', 'up', ...HOST_SPECS], { cwd: REPO, stdio: ['ignore', 2, 2] });
  const slot = rememberedSlot() ?? 0;
  await wipeHost(HOST.container);
  const pebble = await startPebble(slot);
  const ordersAtStart = pebble.orders();
  const ip = testnetAddress(HOST);
  const names = ['one', 'two', 'three'].map((n) => `${n}.bench${slot}.test`);
  for (const n of names) await pebble.addName(n, ip);
  const site = (hosts: string[]) =>
    ['proxy:', `  hosts: [${hosts.join(', ')}]`, '  acme:', `    ca: ${pebble.directoryUrl}`, `    ca_root: ${pebble.listenerCaPath}`].join('\n');
  const app = (service: string, name: string): ExampleApp => {
    const a = makeExampleApp(join(REPO, '.boxship-test'));
    a.writeConfig({ service, hosts: [HOST.address], extraYaml: site([name]) });
    a.commit(`bench: ${service}`);
    return a;
  };
  const [one, two, three] = [app('one', names[0]!), app('two', names[1]!), app('three', names[2]!)];
  await timedBoxship(one.dir, ['deploy']);
  await timedBoxship(two.dir, ['deploy']);
  one.bumpVersion('bench-2');
  await timedBoxship(one.dir, ['release']);
  const ca = await pebble.rootPem();
  const target = (name: string): HttpsTarget => ({ ip, name, ca });

  // 6: streams to both services for the whole of 2-3; a stream of one closed with 1012 (its instance went) reopens.
  const streams: { service: 0 | 1; s: Stream }[] = [];
  let cutEarly = 0;
  let opened = 0;
  let reopening = true;
  const watch = async (service: 0 | 1): Promise<void> => {
    const s = await openStream({ ip, name: names[service]!, ca });
    opened++;
    streams.push({ service, s });
  };
  for (let i = 0; i < 5; i++) await Promise.all([watch(0), watch(1)]);
  const sweep = setInterval(() => {
    for (const st of streams.splice(0)) {
      if (!st.s.ended) {
        streams.push(st);
        continue;
      }
      if (st.service === 1 || st.s.ended.code !== 1012) cutEarly++;
      if (reopening) void watch(st.service).catch(() => cutEarly++);
    }
  }, 200);

  // 1-2: rollout + rollback of one, under load on both.
  const load = (name: string) => startLoad([target(name)], { clients: 2, maxSeconds: 300, pauseMs: 20, post: true });
  let mine = load(names[0]!);
  let other = load(names[1]!);
  await sleep(1000);
  log(`rollout: ${await timedBoxship(one.dir, ['rollout'])}s`);
  log(`rollback: ${await timedBoxship(one.dir, ['rollback'])}s`);
  await sleep(1000);
  const rolled = await mine.stop();
  const otherDuringRollout = await other.stop();
  log(`rollout load on one: ${brief(rolled)}; on two: ${brief(otherDuringRollout)}`);

  // 3: a third service added, then taken off the edge (proxy.hosts removed: its routes go), under load on both.
  mine = load(names[0]!);
  other = load(names[1]!);
  await sleep(1000);
  log(`third service deployed: ${await timedBoxship(three.dir, ['deploy'])}s`);
  three.writeConfig({ service: 'three', hosts: [HOST.address], extraYaml: 'proxy:\n  port: 8099' });
  log(`third service off the edge: ${await timedBoxship(three.dir, ['setup'])}s`);
  await sleep(1000);
  const added = [await mine.stop(), await other.stop()];
  log(`add/remove load: ${added.map(brief).join('; ')}`);

  // 7: the edge replaced by a generation on another Caddy, and back, under load on both services.
  const firstImage = (await onHost(HOST.container, "docker inspect -f '{{.Config.Image}}' boxship-edge")).trim();
  mine = load(names[0]!);
  other = load(names[1]!);
  await sleep(1000);
  for (const edgeImage of ['boxship-proxy:caddy-2.11.4', firstImage]) {
    one.writeConfig({ service: 'one', hosts: [HOST.address], extraYaml: `${site([names[0]!])}\n  edge: { image: ${edgeImage} }` });
    log(`edge upgraded in place to ${edgeImage}: ${await timedBoxship(one.dir, ['setup'])}s`);
    await sleep(2000);
  }
  const upgraded = [await mine.stop(), await other.stop()];
  log(`edge upgrade load: ${upgraded.map(brief).join('; ')}`);

  reopening = false;
  await sleep(500);
  clearInterval(sweep);
  for (const st of streams) st.s.close();
  log(`websockets: ${opened} opened, ${cutEarly} cut early`);

  // 5: requests/s through the edge vs a bare Caddy with the same certificate in front of the same instance.
  const certDir = '/root/bx-bench-cert';
  await onHost(
    HOST.container,
    `mkdir -p ${certDir} && docker cp boxship-edge:/var/lib/boxship-edge/certificates ${certDir}/ && f=$(find ${certDir} -name '${names[0]}.crt') && cp "$f" ${certDir}/c.crt && cp "\${f%.crt}.key" ${certDir}/c.key`,
  );
  const bareConfig = JSON.stringify({
    apps: {
      http: {
        servers: {
          bare: {
            listen: [`:${BARE_PORT}`],
            protocols: ['h1', 'h2'],
            tls_connection_policies: [{}],
            automatic_https: { disable: true },
            routes: [
              {
                handle: [
                  {
                    handler: 'reverse_proxy',
                    upstreams: [{ dial: 'one-1-blue:3000' }, { dial: 'one-1-green:3000' }],
                    load_balancing: { try_duration: '1s' },
                    health_checks: { passive: { fail_duration: '30s' } },
                  },
                ],
              },
            ],
          },
        },
      },
      tls: { certificates: { load_files: [{ certificate: '/cert/c.crt', key: '/cert/c.key' }] } },
    },
  });
  await onHost(HOST.container, `cat > ${certDir}/caddy.json <<'EOF_CADDY'\n${bareConfig}\nEOF_CADDY`);
  const image = (await onHost(HOST.container, "docker inspect -f '{{.Config.Image}}' boxship-edge")).trim();
  await onHost(
    HOST.container,
    `docker rm -f ${BARE} >/dev/null 2>&1; docker run -d --pull never --name ${BARE} --network boxship-one -p ${BARE_PORT}:${BARE_PORT} -v ${certDir}:/cert:ro ${image} caddy run --config /cert/caddy.json >/dev/null`,
  );
  await sleep(2000);
  const rps = async (port: number) => {
    const l = startLoad([{ ...target(names[0]!), port }], { clients: 4, maxSeconds: 10, maxRequests: 100_000 });
    const t = Date.now();
    await sleep(10_000);
    const s = await l.stop();
    if (s.failed) log(`rps run on :${port} failed ${s.failed}: ${s.failures.slice(0, 3).join('; ')}`);
    return s.ok / ((Date.now() - t) / 1000);
  };
  await rps(443); // warm both paths before measuring
  await rps(BARE_PORT);
  const edgeRps = await rps(443);
  const bareRps = await rps(BARE_PORT);
  log(`edge ${edgeRps.toFixed(0)} requests/s, bare Caddy ${bareRps.toFixed(0)} requests/s`);
  await onHost(HOST.container, `docker rm -f ${BARE} >/dev/null 2>&1; rm -rf ${certDir}`);

  const orders = pebble.orders() - ordersAtStart;
  const https = [rolled, otherDuringRollout, ...added, ...upgraded].reduce((n, s) => n + s.requests, 0);
  console.log(
    [
      'RESULT',
      `https_requests=${https}`,
      `https_rollout_failed=${rolled.failed}`,
      `other_service_failed=${otherDuringRollout.failed + added[1]!.failed}`,
      `add_service_failed=${added[0]!.failed + added[1]!.failed}`,
      `edge_upgrade_failed=${upgraded[0]!.failed + upgraded[1]!.failed}`,
      `websockets=${opened}`,
      `websockets_cut_early=${cutEarly}`,
      `cert_orders=${orders}`,
      `hostnames=${names.length}`,
      `edge_rps_ratio=${(edgeRps / bareRps).toFixed(2)}`,
    ].join(' '),
  );
}

const brief = (s: LoadStats) => JSON.stringify({ requests: s.requests, failed: s.failed, postNotOk: s.postNotOk, failures: s.failures.slice(0, 3) });

main().catch((err: Error) => {
  console.error(err.stack ?? err.message);
  process.exit(1);
});
