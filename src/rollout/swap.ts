/**
 * Carries out one move: start the slot's idle colour next to the live instance, wait until it passes its health
 * check through the proxy's network, give the proxy's own health check time to see it, then hand the slot over: the
 * old instance steps aside under a draining name and drains in the background on the host, while the rollout goes
 * on with the next slot. The proxy config never changes during this, so no Caddy reload drops a connection.
 */
import type { Config } from '../config/types.js';
import { type ProxySettings, sameSettings, settingsFor, settingsOf } from '../proxy/settings.js';
import { type Command, sequence } from '../hosts/command.js';
import type { Runner } from '../hosts/runner.js';
import { BoxshipError, errorMessage } from '../util/errors.js';
import { absState, type DeployContext } from '../fleet/context.js';
import { drainMarkers, HEALTH_EXIT, handOver, healthPolling, missingImage, removeNow, runInstance, startDrain, waitHealthy } from './instance-commands.js';
import { names, shaOfTag } from '../fleet/names.js';
import type { Move } from './plan.js';
import { proxyHostDir, setLiveColour } from '../proxy/commands.js';
import { sleep } from '../util/clock.js';
import { shortSha } from '../util/short.js';

/** What a failed check was: the path and port asked, for how long, and how the check ended. */
export interface HealthFailure {
  path: string;
  port: number;
  seconds: number;
  /** The check script's stderr: its first line says why (exited, no 2xx and the last answer), then the app's lines. */
  detail: string;
  /** How the check ended when it said nothing: its exit code or signal, or undefined (no answer at all). */
  ended?: string;
}

/**
 * The failure as a sentence that reads whole even with nothing from the host: its first line names what was checked
 * and why it failed (the rollout's warning shows only that line), the app's own lines follow.
 */
export function healthFailureMessage(host: string, container: string, sha: string, f: HealthFailure): string {
  const [why = '', ...rest] = f.detail.trim().split('\n');
  const reason = why.trim() || `no answer within ${f.seconds}s${f.ended === undefined ? '' : ` (the check ended with ${f.ended})`}`;
  const head = `${host}: ${container} on ${sha} failed its health check (${f.path} on port ${f.port}, up to ${f.seconds}s): ${reason}`;
  return rest.length ? `${head}\n${rest.join('\n')}` : head;
}

class HealthCheckFailed extends BoxshipError {
  constructor(
    readonly move: Move,
    container: string,
    failure: HealthFailure,
  ) {
    super(healthFailureMessage(move.host, container, shortSha(move.to), failure), {
      hint: "the lines above are the app's own output; fix the app or its settings (env, secrets, healthcheck in boxship.yml)",
    });
  }
}

/** The commands of one move, in order, as data. */
export interface MoveSteps {
  /** Leftovers of a run that was cut off, which would block the names this move uses. */
  prepare: Command[];
  start?: Command;
  wait?: Command;
  /** Runs once the new instance is healthy: the slot's name (and restart policy) goes to it. */
  handover?: Command;
  /** The old instance's background drain, and its name (to wait for at the end of the run). */
  drain?: { command: Command; container: string };
  /** Undo of `start` when the health check fails. */
  discard?: Command;
}

/** Seconds an old instance may take to finish: the configured drain plus docker stop's timeout. */
export function stopSeconds(config: Config): number {
  return Math.ceil(config.app.drainSeconds + config.app.stopTimeoutSeconds);
}

/**
 * `existing`: names of the service's containers on the host when the run began. A leftover (an unfinished `.next`,
 * a stopped instance holding the live name) is removed first; without the list, removal is unconditional.
 */
export function moveSteps(config: Config, move: Move, stateDirAbs: string, existing?: ReadonlySet<string>, settings?: ProxySettings): MoveSteps {
  const s = config.service;
  const live = names.instance(s, move.slot);
  const seconds = stopSeconds(config);
  if (move.to === '') {
    // Back to an empty slot (undoing a scale-up): the instance leaves like any old one, draining in the background.
    const draining = names.draining(s, move.slot, move.fromColour ?? 'blue');
    return {
      prepare: [],
      handover: sequence(`retire ${live}`, [
        // An empty slot is routed to blue (the colour it starts with next time); a green instance leaves rotation here.
        setLiveColour(proxyHostDir(stateDirAbs), move.slot, 'blue'),
        { argv: ['docker', 'update', '--restart', 'no', live], why: `keep ${live} from restarting`, effect: 'write' },
        { argv: ['docker', 'rename', live, draining], why: `rename ${live} to ${draining}`, effect: 'write' },
      ]),
      drain: { command: startDrain(draining, seconds, drainMarkers(s)), container: draining },
    };
  }
  const empty = move.from === null;
  const incoming = empty ? live : names.incoming(s, move.slot);
  const draining = names.draining(s, move.slot, move.fromColour ?? 'blue');
  // Draining leftovers are not removed here: one may be a drain of this very run (converge.ts clears old ones).
  const leftovers = empty ? [names.incoming(s, move.slot), live] : [incoming];
  return {
    prepare: leftovers.filter((n) => !existing || existing.has(n)).map(removeNow),
    start: runInstance(config, {
      host: move.host,
      slot: move.slot,
      tag: move.to,
      colour: move.colour,
      name: incoming,
      stateDirAbs,
      sha: shaOfTag(move.to),
      restart: empty ? 'unless-stopped' : 'no',
      ...(settings ? { settings } : {}),
    }),
    wait: waitHealthy(config, incoming, names.alias(s, move.slot, move.colour), settings),
    // The hand-over first routes the slot to the new colour, so the old instance gets no new request before it is told
    // to stop (see caddy-config.ts). An empty slot starts blue, the colour an empty slot is routed to.
    ...(empty
      ? {}
      : {
          handover: handOver(live, incoming, draining, setLiveColour(proxyHostDir(stateDirAbs), move.slot, move.colour)),
          drain: { command: startDrain(draining, seconds, drainMarkers(s)), container: draining },
        }),
    discard: removeNow(incoming),
  };
}

/** One active health-check interval of the proxy (capped at 1 s, as the proxy config caps it) and a little slack. */
function caddyPickupMs(intervalMs: number): number {
  return Math.min(intervalMs, 1000) + 100;
}

/** What a move leaves running in the background: the old instance's drain, to be waited for before the command ends. */
export interface MoveResult {
  draining?: string;
}

export async function applyMove(ctx: DeployContext, ssh: Runner, move: Move, existing?: ReadonlySet<string>): Promise<MoveResult> {
  const { config, report } = ctx;
  const live = names.instance(config.service, move.slot);
  // During a settings change the colour decides the settings (proxy/settings.ts); otherwise they are the config's.
  const hostSettings = ctx.proxySettings?.get(ssh.name);
  const settings = hostSettings && move.to ? settingsFor(hostSettings, settingsOf(config), move.slot, move.colour) : undefined;
  const steps = moveSteps(config, move, await absState(ctx, ssh), existing, settings && !sameSettings(settings, settingsOf(config)) ? settings : undefined);
  if (steps.start && steps.wait) {
    report({ kind: 'step', host: ssh.name, message: `${live}: starting ${shortSha(move.to)} (${move.colour}), waiting for ${config.healthcheck.path}` });
    await ssh.run(sequence(steps.start.why, [...steps.prepare, steps.start])).catch((err: unknown) => {
      throw missingImage(ssh.name, names.image(config.service, move.to), errorMessage(err)) ?? err;
    });
    const r = await ssh.exec(steps.wait, { allowFailure: true });
    if (r.code !== 0) {
      if (steps.discard) await ssh.run(steps.discard).catch(() => {});
      // The script's own stderr says why (exit code, the app's first error line, its last lines); a runner failure
      // (timeout, lost connection) has no exit code and is reported as such.
      const known = r.code === HEALTH_EXIT.exited || r.code === HEALTH_EXIT.timedOut;
      const h = config.healthcheck;
      throw new HealthCheckFailed(move, live, {
        path: settings?.healthPath ?? h.path,
        port: settings?.healthPort ?? h.port,
        seconds: healthPolling(h.intervalMs, h.retries, h.timeoutMs).budgetMs / 1000,
        detail: known ? r.stderr : `${r.stderr}${r.stdout}`,
        ...(r.code !== null ? { ended: `exit ${r.code}` } : r.signal ? { ended: `signal ${r.signal}` } : {}),
      });
    }
    // Caddy marks a newly answering upstream healthy on its next active check. When this slot is the host's only
    // instance, wait for that before the old one leaves, or requests would queue (try_duration) until it happens;
    // with other slots serving, Caddy retries a failed dial on them and no wait is needed.
    if (ssh.config.instances === 1 && move.from !== null && !ssh.dryRun) await sleep(caddyPickupMs(config.healthcheck.intervalMs));
  }
  let draining: string | undefined;
  if (steps.handover) {
    await ssh.run(steps.handover);
    if (steps.drain) {
      report({
        kind: 'step',
        host: ssh.name,
        message: move.to ? `${live}: ${move.from ? shortSha(move.from) : '(empty)'} drains in the background` : `${live}: removing it`,
      });
      await ssh.run(steps.drain.command);
      draining = steps.drain.container;
    }
  }
  if (move.to) report({ kind: 'step', host: ssh.name, message: `${live}: serving ${shortSha(move.to)}` });
  return draining ? { draining } : {};
}
