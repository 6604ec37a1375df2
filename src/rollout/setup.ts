/**
 * Prepares a host, idempotently: Docker answers, the service network exists, state dirs and the 0600 env file are
 * in place, the proxy image is there (shipped layer-thin from here, or pulled), its config file matches the wanted
 * mode, and the proxy container runs and answers its own health endpoint. Safe to run before every rollout.
 */
import type Docker from 'dockerode';
import { readSecretsFile } from '../config/secrets.js';
import type { Config } from '../config/types.js';
import { type Command, command, reading, script } from '../hosts/command.js';
import { DryRunRunner, type Runner } from '../hosts/runner.js';
import { type ProxyMode, caddyConfigText, caddyInputFromConfig, PROXY_HEALTH_PATH } from '../proxy/caddy-config.js';
import {
  applyProxyMode,
  parseProxyState,
  proxyHostConfigFile,
  proxyHostDir,
  proxyState,
  reloadProxy,
  removeProxy,
  startProxy,
  syncLiveColours,
  writeProxyConfig,
} from '../proxy/commands.js';
import { shipImage } from '../ship/release.js';
import { HostError } from '../util/errors.js';
import { absState, relState, type DeployContext } from './context.js';
import { envFilePath } from './instance-commands.js';
import { readFileCommand } from '../state/jsonl.js';
import { LABEL, names } from './names.js';

/** The env file the instances read: config env, secrets, and the config-file pointer, KEY=VALUE per line. */
export function envFileText(config: Config): string {
  const env: Record<string, string> = { PORT: String(config.app.port), ...config.app.env };
  if (config.app.configFile) env[config.app.configFile.env] = config.app.configFile.path;
  if (config.app.secretsFile) Object.assign(env, readSecretsFile(config.app.secretsFile));
  return Object.entries(env)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n') + '\n';
}

export function checkDocker(): Command {
  return reading(command('check that Docker answers', 'docker', 'version', '--format', '{{.Server.Version}}'));
}

export function makeStateDirs(config: Config, stateDir: string): Command {
  const dirs = [stateDir, proxyHostDir(stateDir), ...config.app.volumes.map((v) => `${stateDir}/volumes/${v.name}`)];
  return script('create the state dirs', 'mkdir -p "$@" && chmod 700 "$1"', ...dirs);
}

/** Writes stdin to a file readable only by its owner, atomically. */
export function writePrivateFile(path: string, why: string): Command {
  return script(why, 'umask 077 && cat > "$1.tmp" && mv "$1.tmp" "$1"', path);
}

export function ensureNetwork(service: string): Command {
  return script(`create the ${names.network(service)} network`, 'docker network inspect "$1" >/dev/null 2>&1 || docker network create "$1" >/dev/null', names.network(service));
}

export function modeFile(stateDir: string): string {
  return `${stateDir}/mode.json`;
}

export function parseMode(text: string): ProxyMode {
  try {
    const m = JSON.parse(text) as ProxyMode;
    if (m.kind === 'maintenance') return m;
  } catch {
    /* no mode file yet: serving */
  }
  return { kind: 'serving' };
}

export async function readMode(ctx: DeployContext, ssh: Runner): Promise<ProxyMode> {
  return parseMode(await ssh.run(readFileCommand('read the proxy mode', modeFile(relState(ctx)))));
}

/** The proxy's config: the same in every mode (maintenance and each slot's colour are marker files, see caddy-config.ts). */
export function proxyConfigFor(config: Config, instances: number): string {
  return caddyConfigText(caddyInputFromConfig(config, instances));
}

function waitProxyHealthy(service: string): Command {
  return script(
    'wait until the proxy answers',
    'for i in $(seq 50); do docker exec "$1" wget -q -O /dev/null -T 1 "http://localhost:80$2" 2>/dev/null && exit 0; sleep 0.2; done; echo "the proxy does not answer $2; its log:" >&2; docker logs --tail 20 "$1" >&2 2>&1; exit 1',
    names.proxy(service),
    PROXY_HEALTH_PATH,
  );
}

/** Makes sure the proxy image is on the host: shipped from this machine if it has it, else pulled by the host. */
async function ensureProxyImage(ctx: DeployContext, ssh: Runner, docker: Docker): Promise<void> {
  const image = ctx.config.proxy.image;
  const local = await docker.getImage(image).inspect().catch(() => undefined);
  if (local) {
    ctx.report({ kind: 'step', host: ssh.name, message: `shipping the proxy image ${image}` });
    const [r] = (await shipImage({ config: ctx.config, docker, image: { imageId: local.Id, ref: image, tag: image, sha: '' }, connections: [{ host: ssh.config, ssh }], report: ctx.report, recordRelease: false })).hosts;
    if (!r?.ok) throw r?.error ?? new HostError(ssh.name, `could not ship ${image}`);
    return;
  }
  ctx.report({ kind: 'step', host: ssh.name, message: `pulling the proxy image ${image} on the host` });
  await ssh.exec(command(`pull ${image}`, 'docker', 'pull', image), { timeoutMs: 10 * 60_000 }).catch((err: Error) => {
    throw new HostError(ssh.name, `the proxy image ${image} is neither on the host nor here, and the host cannot pull it: ${err.message}`, {
      hint: 'build it here (scripts/setup.sh builds boxship-proxy:caddy-2.6.2 from dockerfiles/proxy) or set proxy.image to an image the host can pull',
    });
  });
}

export async function ensureHost(ctx: DeployContext, ssh: Runner, docker: Docker, mode?: ProxyMode): Promise<void> {
  const { config } = ctx;
  const rel = relState(ctx);
  const abs = await absState(ctx, ssh);
  const hostDir = proxyHostDir(rel);
  // Independent checks and writes in parallel: each is a round trip, and a rollout waits for all of them.
  const [, , , hasImage, storedMode, currentConfig, state] = await Promise.all([
    ssh.run(checkDocker()).catch((err: Error) => {
      throw new HostError(ssh.name, `Docker does not answer: ${err.message}`, { hint: `install Docker on the host and make sure ${ssh.config.user} may use it (docker group)` });
    }),
    ssh.run(makeStateDirs(config, rel)).then(() => ssh.run(writePrivateFile(envFilePath(abs), 'write the app env file (mode 0600)'), envFileText(config))),
    ssh.run(ensureNetwork(config.service)),
    ssh.exec(reading(command(`check for ${config.proxy.image}`, 'docker', 'image', 'inspect', '--format', '{{.Id}}', config.proxy.image)), { allowFailure: true }).then((r) => r.code === 0),
    mode ? Promise.resolve(mode) : readMode(ctx, ssh),
    ssh.run(readFileCommand('read the proxy config', proxyHostConfigFile(hostDir))),
    ssh.run(proxyState(config.service)).then(parseProxyState),
  ]);
  if (!hasImage) {
    if (ssh instanceof DryRunRunner) ssh.note(`ship the proxy image ${config.proxy.image} from here (layer-thin, as release does), or let the host pull it`);
    else await ensureProxyImage(ctx, ssh, docker);
  }

  // The mode is files the proxy checks per request (no reload), and each slot's colour marker follows the instance
  // that holds the slot's name, before a new config that reads the markers can be loaded.
  if (mode) await ssh.run(writePrivateFile(modeFile(rel), 'record the proxy mode'), JSON.stringify(mode));
  await Promise.all([ssh.run(applyProxyMode(hostDir, storedMode)), ssh.run(syncLiveColours(config.service, hostDir, ssh.config.instances, LABEL))]);
  const text = proxyConfigFor(config, ssh.config.instances);
  const changed = currentConfig !== text;
  if (changed) await ssh.run(writeProxyConfig(hostDir), text);

  if (state.status !== 'missing' && 'image' in state && state.image !== config.proxy.image) {
    await ssh.run(removeProxy(config.service));
    state.status = 'missing';
  }
  if (state.status === 'missing') {
    ctx.report({ kind: 'step', host: ssh.name, message: `starting the proxy on ${config.proxy.bind}:${config.proxy.port}` });
    await ssh.run(startProxy({ service: config.service, network: names.network(config.service), image: config.proxy.image, bind: config.proxy.bind, port: config.proxy.port, hostDir }));
  } else if (state.status !== 'running') {
    await ssh.run(command('start the proxy', 'docker', 'start', names.proxy(config.service)));
  } else if (changed) {
    ctx.report({ kind: 'step', host: ssh.name, message: 'reloading the proxy config' });
    await ssh.run(reloadProxy(config.service));
  }
  // A proxy that was just started or reloaded must answer before anything relies on it.
  if (state.status !== 'running' || changed) await ssh.run(waitProxyHealthy(config.service));
}

/** What a rollback needs of a host: its proxy up (a rollback never changes settings, so nothing else is prepared). */
export async function ensureProxyRunning(ctx: DeployContext, ssh: Runner): Promise<void> {
  const state = parseProxyState(await ssh.run(proxyState(ctx.config.service)));
  if (state.status !== 'running') {
    throw new HostError(ssh.name, `the proxy container ${names.proxy(ctx.config.service)} is ${state.status}`, { hint: 'run: boxship setup (it starts the proxy), then the rollback again' });
  }
}
