/**
 * Carries out one move: start the slot's idle colour next to the live instance, wait until it passes its health
 * check through the proxy's network, give the proxy's own health check time to see it, then stop the old instance
 * (SIGTERM: it stops accepting and finishes in-flight requests) and give the new one the slot's name.
 * The proxy config never changes during this, so no Caddy reload drops a connection.
 */
import type { Config } from '../config/types.js';
import { type Command, sequence } from '../hosts/command.js';
import type { SshHost } from '../hosts/ssh.js';
import { BoxshipError, errorMessage } from '../util/errors.js';
import { absState, type DeployContext } from './context.js';
import { missingImage, removeNow, rename, runInstance, stopAndRemove, waitHealthy } from './instance-commands.js';
import { names } from './names.js';
import type { Move } from './plan.js';

export class HealthCheckFailed extends BoxshipError {
  constructor(
    readonly move: Move,
    container: string,
    detail: string,
  ) {
    super(`${move.host}: ${container} on ${move.to} failed its health check:\n${detail}`);
  }
}

/** The release's git sha (a tag may carry a -dirty-<hash> suffix). */
export function shaOfTag(tag: string): string {
  return tag.slice(0, 40);
}

/** The commands of one move, in order, as data: what applyMove runs and what --plan prints. */
export interface MoveSteps {
  prepare: Command[];
  start?: Command;
  wait?: Command;
  /** Runs only after the new instance is healthy (or, for a move to nothing, is the whole move). */
  retire: Command[];
  /** Undo of `start` when the health check fails. */
  discard?: Command;
}

/**
 * `existing`: names of the service's containers on the host when the run began. A leftover (an unfinished `.next`,
 * a stopped instance holding the live name) is removed first; without the list, removal is unconditional.
 */
export function moveSteps(config: Config, move: Move, stateDirAbs: string, existing?: ReadonlySet<string>): MoveSteps {
  const s = config.service;
  const live = names.instance(s, move.slot);
  const stopSeconds = config.app.drainSeconds + config.app.stopTimeoutSeconds;
  if (move.to === '') return { prepare: [], retire: [stopAndRemove(live, stopSeconds)] };
  const incoming = move.from === null ? live : names.incoming(s, move.slot);
  return {
    // A leftover from a run that was cut off would block the name.
    prepare: (move.from === null ? [names.incoming(s, move.slot), live] : [incoming]).filter((n) => !existing || existing.has(n)).map(removeNow),
    start: runInstance(config, { slot: move.slot, tag: move.to, colour: move.colour, name: incoming, stateDirAbs, sha: shaOfTag(move.to) }),
    wait: waitHealthy(config, incoming, names.alias(s, move.slot, move.colour)),
    retire: move.from === null ? [] : [stopAndRemove(live, stopSeconds), rename(incoming, live)],
    discard: removeNow(incoming),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One active health-check interval of the proxy (capped at 1 s, as the proxy config caps it) and a little slack. */
export function caddyPickupMs(intervalMs: number): number {
  return Math.min(intervalMs, 1000) + 100;
}

export async function applyMove(ctx: DeployContext, ssh: SshHost, move: Move, existing?: ReadonlySet<string>): Promise<void> {
  const { config, report } = ctx;
  const live = names.instance(config.service, move.slot);
  const steps = moveSteps(config, move, await absState(ctx, ssh), existing);
  if (steps.start && steps.wait) {
    report({ kind: 'step', host: ssh.name, message: `${live}: starting ${move.to.slice(0, 12)} (${move.colour}), waiting for ${config.healthcheck.path}` });
    await ssh.run(sequence(steps.start.why, [...steps.prepare, steps.start])).catch((err: unknown) => {
      throw missingImage(ssh.name, names.image(config.service, move.to), errorMessage(err)) ?? err;
    });
    try {
      await ssh.run(steps.wait);
    } catch (err) {
      if (steps.discard) await ssh.run(steps.discard).catch(() => {});
      throw new HealthCheckFailed(move, live, errorMessage(err));
    }
    // Caddy marks a newly answering upstream healthy on its next active check. When this slot is the host's only
    // instance, wait for that before stopping the old one, or requests would queue (try_duration) until it happens;
    // with other slots serving, Caddy retries a failed dial on them and no wait is needed.
    if (ssh.config.instances === 1) await sleep(caddyPickupMs(config.healthcheck.intervalMs));
  }
  if (steps.retire.length) {
    report({ kind: 'step', host: ssh.name, message: move.to ? `${live}: draining and stopping ${move.from?.slice(0, 12)}` : `${live}: removing it` });
    await ssh.run(sequence(steps.retire[0]!.why, steps.retire));
  }
  if (move.to) report({ kind: 'step', host: ssh.name, message: `${live}: serving ${move.to.slice(0, 12)}` });
}
