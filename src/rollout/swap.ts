/**
 * Carries out one move: start the slot's idle colour next to the live instance, wait until it passes its health
 * check through the proxy's network, give the proxy's own health check time to see it, then stop the old instance
 * (SIGTERM: it stops accepting and finishes in-flight requests) and give the new one the slot's name.
 * The proxy config never changes during this, so no Caddy reload drops a connection.
 */
import type { SshHost } from '../hosts/ssh.js';
import { BoxshipError, errorMessage } from '../util/errors.js';
import { absState, type DeployContext } from './context.js';
import { removeNow, rename, runInstance, stopAndRemove, waitHealthy } from './instance-commands.js';
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The release's git sha (a tag may carry a -dirty-<hash> suffix). */
export function shaOfTag(tag: string): string {
  return tag.slice(0, 40);
}

export async function applyMove(ctx: DeployContext, ssh: SshHost, move: Move): Promise<void> {
  const { config, report } = ctx;
  const s = config.service;
  const live = names.instance(s, move.slot);
  const stopSeconds = config.app.drainSeconds + config.app.stopTimeoutSeconds;
  if (move.to === '') {
    report({ kind: 'step', host: ssh.name, message: `removing ${live} (it was not there before)` });
    await ssh.run(stopAndRemove(live, stopSeconds));
    return;
  }
  const incoming = move.from === null ? live : names.incoming(s, move.slot);
  const alias = names.alias(s, move.slot, move.colour);
  // A leftover from a run that was cut off would block the name.
  await ssh.run(removeNow(names.incoming(s, move.slot)));
  if (move.from === null) await ssh.run(removeNow(live));
  report({ kind: 'step', host: ssh.name, message: `${live}: starting ${move.to.slice(0, 12)} as ${move.colour}` });
  await ssh.run(runInstance(config, { slot: move.slot, tag: move.to, colour: move.colour, name: incoming, stateDirAbs: await absState(ctx, ssh), sha: shaOfTag(move.to) }));
  report({ kind: 'step', host: ssh.name, message: `${live}: waiting for ${config.healthcheck.path}` });
  try {
    await ssh.run(waitHealthy(config, incoming, alias));
  } catch (err) {
    await ssh.run(removeNow(incoming)).catch(() => {});
    throw new HealthCheckFailed(move, live, errorMessage(err));
  }
  // Caddy marks a newly answering upstream healthy on its next active check.
  await sleep(Math.min(config.healthcheck.intervalMs, 1000) + 300);
  if (move.from !== null) {
    report({ kind: 'step', host: ssh.name, message: `${live}: draining and stopping ${move.from.slice(0, 12)}` });
    await ssh.run(stopAndRemove(live, stopSeconds));
    await ssh.run(rename(incoming, live));
  }
  report({ kind: 'step', host: ssh.name, message: `${live}: serving ${move.to.slice(0, 12)}` });
}
