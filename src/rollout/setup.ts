/**
 * Prepares a host, idempotently: Docker answers, the service network exists, state dirs and the 0600 env file are
 * in place, the proxy image is there (fleet/proxy-image.ts: built here if it is boxship's own, shipped layer-thin, or
 * pulled), its config file matches the wanted
 * mode, and the proxy container runs and answers its own health endpoint. Safe to run before every rollout.
 */
import type Docker from 'dockerode';
import { readSecretsFile } from '../config/secrets.js';
import type { Config } from '../config/types.js';
import { type Command, command, script } from '../hosts/command.js';
import type { Runner } from '../hosts/runner.js';
import { type ProxyMode, PROXY_HEALTH_PATH } from '../proxy/caddy-answers.js';
import { type Colour, caddyConfigText, caddyInputFromConfig } from '../proxy/caddy-config.js';
import {
  applyProxyMode,
  currentLayout,
  parseProxyState,
  portHolders,
  type ProxyState,
  proxyHostConfigFile,
  proxyHostDir,
  proxyState,
  reloadEdge,
  reloadProxy,
  removeProxy,
  startProxy,
  syncLiveColours,
  writeProxyConfig,
} from '../proxy/commands.js';
import { EDGE_CONFIG_FILES, type EdgeSyntax, edgeConfigText } from '../proxy/edge-config.js';
import { applyEdge, checkEdge } from '../edge/setup.js';
import { HostError, InputError } from '../util/errors.js';
import { beginTransition, describeSettings, parseSettingsState, proxyInput, sameSettings, settingsOf, settle, type SettingsState } from '../proxy/settings.js';
import { readHost } from './fleet.js';
import { ensureDocker, parseDockerProbe, probeDocker } from './docker-install.js';
import { absState, relState, type DeployContext } from '../fleet/context.js';
import { envFilePath } from './instance-commands.js';
import { readFileCommand } from '../state/jsonl.js';
import { LABEL, names } from '../fleet/names.js';
import { ensureProxyImage, proxyImageOnHost } from '../fleet/proxy-image.js';

/** The env file the instances read: config env, secrets, and the config-file pointer, KEY=VALUE per line. */
export function envFileText(config: Config): string {
  const env: Record<string, string> = { PORT: String(config.app.port), ...config.app.env };
  if (config.app.configFile) env[config.app.configFile.env] = config.app.configFile.path;
  if (config.app.secretsFile) Object.assign(env, readSecretsFile(config.app.secretsFile));
  return `${Object.entries(env)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n`;
}

export function makeStateDirs(config: Config, stateDir: string): Command {
  const dirs = [stateDir, proxyHostDir(stateDir), ...config.app.volumes.map((v) => `${stateDir}/volumes/${v.name}`)];
  return script('write', 'create the state dirs', 'mkdir -p "$@" && chmod 700 "$1"', ...dirs);
}

/** Writes stdin to a file readable only by its owner, atomically. */
export function writePrivateFile(path: string, why: string): Command {
  return script('write', why, 'umask 077 && cat > "$1.tmp" && mv "$1.tmp" "$1"', path);
}

export function ensureNetwork(service: string): Command {
  return script(
    'write',
    `create the ${names.network(service)} network`,
    'docker network inspect "$1" >/dev/null 2>&1 || docker network create "$1" >/dev/null',
    names.network(service),
  );
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
function proxyConfigFor(config: Config, instances: number, settings?: SettingsState): string {
  return caddyConfigText(settings ? proxyInput(config, instances, settings) : caddyInputFromConfig(config, instances));
}

/** The host's record of the settings its proxy serves with (settings.ts). */
function settingsFile(stateDir: string): string {
  return `${proxyHostDir(stateDir)}/settings.json`;
}

/** Each slot's live colour on a host (null: no live instance), from its containers. */
async function liveColours(ctx: DeployContext, ssh: Runner): Promise<Record<string, Colour | null>> {
  const { state } = await readHost(ctx, ssh, ssh.config.instances);
  return Object.fromEntries(state.slots.map((s) => [String(s.slot), s.colour]));
}

/**
 * The settings a host's proxy is to serve with. A rollout (`transition`) that changes them begins a transition that
 * keeps the live instances on the old ones (settings.ts); other commands keep what the host has and say that the
 * change waits for the next rollout. A host without a record (new, or set up by an older boxship) takes the config's.
 */
async function settingsForHost(ctx: DeployContext, ssh: Runner, transition: boolean): Promise<{ state: SettingsState; changed: boolean }> {
  const want = settingsOf(ctx.config);
  const stored = parseSettingsState(await ssh.run(readFileCommand('read the proxy settings', settingsFile(relState(ctx)))));
  if (!stored) return { state: { steady: want }, changed: true };
  const t = stored.transition;
  if (t) {
    if (sameSettings(t.to, want)) return { state: stored, changed: false };
    if (!transition) return { state: stored, changed: false };
    throw new InputError(
      `${ssh.name}: a change of the proxy settings (${describeSettings(t.from)} -> ${describeSettings(t.to)}) is only part rolled out (a canary or an interrupted run), and boxship.yml now asks for ${describeSettings(want)}`,
      {
        hint: `finish that change first (boxship rollout with app.port/healthcheck as ${describeSettings(t.to)}) or undo it (boxship rollback), then change them again`,
      },
    );
  }
  if (sameSettings(stored.steady, want)) return { state: stored, changed: false };
  if (!transition) {
    ctx.report({
      kind: 'warning',
      host: ssh.name,
      message: `the proxy keeps ${describeSettings(stored.steady)} until the next rollout moves the instances to ${describeSettings(want)}`,
    });
    return { state: stored, changed: false };
  }
  const live = await liveColours(ctx, ssh);
  if (Object.values(live).every((c) => c === null)) return { state: { steady: want }, changed: true };
  ctx.report({
    kind: 'step',
    host: ssh.name,
    message: `proxy settings change (${describeSettings(stored.steady)} -> ${describeSettings(want)}): old instances keep theirs until replaced`,
  });
  return { state: { steady: stored.steady, transition: beginTransition(stored.steady, want, live) }, changed: true };
}

/**
 * After a rollout or rollback: a settings transition whose instances all moved settles on the new settings, one whose
 * instances are all back (a failed rollout put back, a rollback) on the old ones; the proxy config follows (a reload:
 * only when settings change). A mixed fleet (a canary) keeps the transition.
 */
export async function settleSettings(ctx: DeployContext, ssh: Runner): Promise<void> {
  const rel = relState(ctx);
  const stored = parseSettingsState(await ssh.run(readFileCommand('read the proxy settings', settingsFile(rel))));
  const t = stored?.transition;
  if (!t) return;
  const where = settle(t, await liveColours(ctx, ssh));
  if (where === 'mixed') return;
  const state: SettingsState = { steady: where === 'new' ? t.to : t.from };
  ctx.report({ kind: 'step', host: ssh.name, message: `proxy settles on ${describeSettings(state.steady)}` });
  await ssh.run(writePrivateFile(settingsFile(rel), 'record the proxy settings'), JSON.stringify(state));
  await ssh.run(writeProxyConfig(proxyHostDir(rel)), proxyConfigFor(ctx.config, ssh.config.instances, state));
  await ssh.run(reloadProxy(ctx.config.service));
  await ssh.run(waitProxyHealthy(ctx.config.service));
}

function waitProxyHealthy(service: string): Command {
  return script(
    'write',
    'wait until the proxy answers',
    'for i in $(seq 50); do docker exec "$1" wget -q -O /dev/null -T 1 "http://localhost:80$2" 2>/dev/null && exit 0; sleep 0.2; done; echo "the proxy does not answer $2; its log:" >&2; docker logs --tail 20 "$1" >&2 2>&1; exit 1',
    names.proxy(service),
    PROXY_HEALTH_PATH,
  );
}

export async function ensureHost(ctx: DeployContext, ssh: Runner, docker: Docker, mode?: ProxyMode, options: { transition?: boolean } = {}): Promise<void> {
  const { config } = ctx;
  const rel = relState(ctx);
  const abs = await absState(ctx, ssh);
  const hostDir = proxyHostDir(rel);
  // First, before anything is written: a settings change that cannot be applied is bad input.
  // Docker is probed alongside (one round trip each); a bare Debian/Ubuntu host has it installed and started then.
  const [settings, docker0, edge] = await Promise.all([
    settingsForHost(ctx, ssh, options.transition ?? false),
    ssh.run(probeDocker()).then(parseDockerProbe),
    checkEdge(ctx, ssh),
    checkProxyPort(ctx, ssh),
  ]);
  ctx.proxySettings?.set(ssh.name, settings.state);
  await ensureDocker(ctx, ssh, docker0);
  // Independent checks and writes in parallel: each is a round trip, and a rollout waits for all of them.
  const [, , onHost, storedMode, currentConfig, state] = await Promise.all([
    ssh.run(makeStateDirs(config, rel)).then(() => ssh.run(writePrivateFile(envFilePath(abs), 'write the app env file (mode 0600)'), envFileText(config))),
    ssh.run(ensureNetwork(config.service)),
    proxyImageOnHost(ssh, config.proxy.image),
    mode ? Promise.resolve(mode) : readMode(ctx, ssh),
    ssh.run(readFileCommand('read the proxy config', proxyHostConfigFile(hostDir))),
    ssh.run(proxyState(config.service)).then(parseProxyState),
  ]);
  const imageReplaced = await ensureProxyImage(ctx, ssh, docker, onHost);

  // The mode is files the proxy checks per request (no reload), and each slot's colour marker follows the instance
  // that holds the slot's name, before a new config that reads the markers can be loaded.
  if (mode) await ssh.run(writePrivateFile(modeFile(rel), 'record the proxy mode'), JSON.stringify(mode));
  await Promise.all([ssh.run(applyProxyMode(hostDir, storedMode)), ssh.run(syncLiveColours(config.service, hostDir, ssh.config.instances, LABEL))]);
  if (settings.changed) await ssh.run(writePrivateFile(settingsFile(rel), 'record the proxy settings'), JSON.stringify(settings.state));
  const text = proxyConfigFor(config, ssh.config.instances, settings.state);
  await reconcileProxy(ctx, ssh, { state, currentConfig, text, hostDir, network: names.network(config.service), imageReplaced });
  const edgeImage = config.proxy.site?.edge.image;
  if (edge && edgeImage && edgeImage !== config.proxy.image) await ensureProxyImage(ctx, ssh, docker, await proxyImageOnHost(ssh, edgeImage), edgeImage);
  if (edge) await applyEdge(ctx, ssh, edge);
}

/**
 * Refuses, before anything is written, a proxy.port that another container on the host publishes (another service's
 * proxy, most likely: each service without proxy.hosts needs a port of its own), instead of a half-done setup that
 * fails at docker run with "port is already allocated".
 */
async function checkProxyPort(ctx: DeployContext, ssh: Runner): Promise<void> {
  const { port } = ctx.config.proxy;
  if (port === undefined) return;
  const mine = names.proxy(ctx.config.service);
  const others = (await ssh.exec(portHolders(port), { allowFailure: true })).stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((n) => n && n !== mine);
  if (others.length) {
    throw new InputError(`${ssh.name}: port ${port} is already published by ${others.join(', ')}`, {
      hint: 'set proxy.port to a free port for this service, or serve it by name on the shared ports 80/443 with proxy.hosts (see On the internet); nothing was changed',
    });
  }
}

/**
 * Brings a host's proxy container to the config `text` (both backends): writes the file when it differs, replaces a
 * container that runs another image, starts a missing or stopped one, reloads a running one whose config changed,
 * and waits until a proxy that was started or reloaded answers before anything relies on it.
 */
export async function reconcileProxy(
  ctx: DeployContext,
  ssh: Runner,
  o: { state: ProxyState; currentConfig: string; text: string; hostDir: string; network: string; imageReplaced: boolean },
): Promise<void> {
  const { config } = ctx;
  const { state, hostDir } = o;
  const changed = o.currentConfig !== o.text;
  const [edgeChanged] = await Promise.all([syncEdgeConfigs(config, ssh, hostDir), changed ? ssh.run(writeProxyConfig(hostDir), o.text) : undefined]);

  // Another image (or a newer one under its tag), a container from a boxship whose proxy had no edge (one Caddy on
  // port 80), or one without the edge's volume that proxy.hosts now needs (or with it, no longer needed): replaced.
  const edge = config.proxy.site !== undefined;
  const newImage = o.imageReplaced && state.status !== 'missing';
  if (!currentLayout(state, edge) || newImage || ('image' in state && state.image !== config.proxy.image)) {
    if (!currentLayout(state, edge))
      ctx.report({ kind: 'step', host: ssh.name, message: 'replacing the proxy container with the edge + router layout (a one-time restart of the proxy)' });
    else if (newImage)
      ctx.report({
        kind: 'step',
        host: ssh.name,
        message: `replacing the proxy container: ${config.proxy.image} is a newer image now (a one-time restart of the proxy)`,
      });
    await ssh.run(removeProxy(config.service));
    state.status = 'missing';
  }
  if (state.status === 'missing') {
    const where = config.proxy.port === undefined ? 'for the edge' : `on ${config.proxy.bind}:${config.proxy.port}`;
    ctx.report({ kind: 'step', host: ssh.name, message: `starting the proxy ${where}` });
    await ssh.run(
      startProxy({
        service: config.service,
        network: o.network,
        image: config.proxy.image,
        bind: config.proxy.bind,
        ...(config.proxy.port !== undefined ? { port: config.proxy.port } : {}),
        edge,
        hostDir,
      }),
    );
  } else if (state.status !== 'running') {
    await ssh.run(command('write', 'start the proxy', 'docker', 'start', names.proxy(config.service)));
  } else {
    if (edgeChanged) {
      ctx.report({ kind: 'step', host: ssh.name, message: 'reloading the proxy edge (proxy.retry_after or proxy.backoff_header changed)' });
      await ssh.run(reloadEdge(config.service));
    }
    if (changed) {
      ctx.report({ kind: 'step', host: ssh.name, message: 'reloading the proxy router config (the edge keeps every client connection)' });
      await ssh.run(reloadProxy(config.service));
    }
  }
  if (state.status !== 'running' || changed || edgeChanged) await ssh.run(waitProxyHealthy(config.service));
}

/**
 * Brings the edge's config files (one per Caddy syntax) to boxship.yml's proxy settings; true when either was
 * rewritten. Read and compared here like the router's config, so that a --plan shows the write and the edge reload.
 */
async function syncEdgeConfigs(config: Config, ssh: Runner, hostDir: string): Promise<boolean> {
  const input = { retryAfterSeconds: config.proxy.retryAfterSeconds, backoffHeader: config.proxy.backoffHeader };
  const rewritten = await Promise.all(
    (Object.keys(EDGE_CONFIG_FILES) as EdgeSyntax[]).map(async (syntax) => {
      const file = EDGE_CONFIG_FILES[syntax];
      const text = edgeConfigText(input, syntax);
      if ((await ssh.run(readFileCommand(`read the proxy config ${file}`, proxyHostConfigFile(hostDir, file)))) === text) return false;
      await ssh.run(writeProxyConfig(hostDir, file), text);
      return true;
    }),
  );
  return rewritten.some(Boolean);
}

/** What a rollback needs of a host: its proxy up (a rollback never changes settings, so nothing else is prepared). */
export async function ensureProxyRunning(ctx: DeployContext, ssh: Runner): Promise<void> {
  const [state, settings] = await Promise.all([
    ssh.run(proxyState(ctx.config.service)).then(parseProxyState),
    ssh.run(readFileCommand('read the proxy settings', settingsFile(relState(ctx)))).then(parseSettingsState),
  ]);
  // A rollback puts instances back with the settings they ran with (settings.ts), whatever boxship.yml says now.
  if (settings) ctx.proxySettings?.set(ssh.name, settings);
  if (state.status !== 'running') {
    throw new HostError(ssh.name, `the proxy container ${names.proxy(ctx.config.service)} is ${state.status}`, {
      hint: 'run: boxship setup (it starts the proxy), then the rollback again',
    });
  }
}
