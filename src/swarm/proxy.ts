/**
 * The proxy of the Swarm backend: the same Caddy container as the per-host backend's (`<service>-proxy`, publishing
 * proxy.port on proxy.bind), one on every node, attached to the service's overlay network. Instead of fixed
 * instance names it proxies to whatever `<service>-upstream` resolves to on that network: with `--endpoint-mode
 * dnsrr` that is the address of every task that Swarm counts as started (healthy, when there is a health check), so
 * a rolling update, a drain or a rescheduled task needs no proxy change at all. The lookup is refreshed every second.
 *
 * Everything else is the per-host proxy's: the health endpoint, the 503 with Retry-After and the back-off header
 * when no task answers within the try duration, and maintenance mode as marker files in the proxy's folder on each
 * node (no reload).
 */
import type Docker from 'dockerode';
import type { Config } from '../config/types.js';
import type { Runner } from '../hosts/runner.js';
import type { ProxyMode } from '../proxy/caddy-answers.js';
import { caddyConfig, caddyInputFromConfig, DIAL_TIMEOUT_MS, duration, FORWARDED_FROM_EDGE, TRY_DURATION_MS, TRY_INTERVAL_MS } from '../proxy/caddy-config.js';
import { applyProxyMode, parseProxyState, proxyHostConfigFile, proxyHostDir, proxyState } from '../proxy/commands.js';
import type { DeployContext } from '../fleet/context.js';
import { relState } from '../fleet/context.js';
import { ensureProxyImage, proxyImageOnHost } from '../fleet/proxy-image.js';
import { makeStateDirs, modeFile, parseMode, reconcileProxy, writePrivateFile } from '../rollout/setup.js';
import { readFileCommand } from '../state/jsonl.js';
import { checkNoLocalNetwork, swarmNames } from './commands.js';

/** How often the proxy looks the tasks up again (Caddy caches the answer this long). */
const DNS_REFRESH_MS = 1000;

/** The reverse proxy over the tasks' addresses, looked up by DNS on the overlay network. */
export function swarmTrafficHandler(service: string, appPort: number): Record<string, unknown> {
  return {
    handler: 'reverse_proxy',
    dynamic_upstreams: { source: 'a', name: swarmNames.upstream(service), port: String(appPort), refresh: duration(DNS_REFRESH_MS) },
    load_balancing: {
      // Round robin: a retry after a failed dial goes to the next task, not to a random one that may be the same.
      selection_policy: { policy: 'round_robin' },
      try_duration: duration(TRY_DURATION_MS),
      try_interval: duration(TRY_INTERVAL_MS),
    },
    headers: FORWARDED_FROM_EDGE,
    transport: { protocol: 'http', dial_timeout: duration(DIAL_TIMEOUT_MS) },
  };
}

/** The Caddy config text of the Swarm proxy: the same on every node, in every mode, at every update. */
export function swarmProxyConfigText(config: Config): string {
  const input = { ...caddyInputFromConfig(config, 1) };
  return `${JSON.stringify(caddyConfig(input, swarmTrafficHandler(config.service, config.app.port)), null, 2)}\n`;
}

/**
 * Prepares one node, idempotently: state dirs, the proxy image (fleet/proxy-image.ts, as on a per-host host), the proxy
 * config and mode files, and the proxy container on the overlay network, answering its health endpoint.
 */
export async function ensureSwarmProxy(ctx: DeployContext, ssh: Runner, docker: Docker, mode?: ProxyMode): Promise<void> {
  const { config } = ctx;
  const rel = relState(ctx);
  const hostDir = proxyHostDir(rel);
  const network = swarmNames.network(config.service);
  const [, onHost, storedMode, currentConfig, state] = await Promise.all([
    ssh.run(makeStateDirs(config, rel)).then(() => ssh.run(checkNoLocalNetwork(network))),
    proxyImageOnHost(ssh, config.proxy.image),
    mode ? Promise.resolve(mode) : ssh.run(readFileCommand('read the proxy mode', modeFile(rel))).then(parseMode),
    ssh.run(readFileCommand('read the proxy config', proxyHostConfigFile(hostDir))),
    ssh.run(proxyState(config.service)).then(parseProxyState),
  ]);
  const imageReplaced = await ensureProxyImage(ctx, ssh, docker, onHost);
  if (mode) await ssh.run(writePrivateFile(modeFile(rel), 'record the proxy mode'), JSON.stringify(mode));
  await ssh.run(applyProxyMode(hostDir, storedMode));
  await reconcileProxy(ctx, ssh, { state, currentConfig, text: swarmProxyConfigText(config), hostDir, network, imageReplaced });
}
