/**
 * Keeps one generation of the edge serving (edge/layout.ts), and replaces it without a lost request or a cut stream
 * when its image or its config changes (a new boxship, another Caddy, a server-wide setting): the next generation
 * starts on another slot's ports in the same namespace, new connections go to it (NAT, conntrack keeps the open
 * ones where they are), and the previous one retires on its own once its connections end. A Caddy reload would do
 * the same change in place, and every reload can reset an idle keep-alive client.
 *
 * If the next generation does not come up, the previous one is put back as it was, and the error names why.
 */
import type { DeployContext } from '../fleet/context.js';
import { command } from '../hosts/command.js';
import type { Runner } from '../hosts/runner.js';
import { InputError } from '../util/errors.js';
import {
  type EdgeState,
  removeContainers,
  restoreGeneration,
  retireGeneration,
  routeNewConnections,
  setAsideGeneration,
  startEdgePorts,
  startGeneration,
  waitEdgeReady,
} from './commands.js';
import { EDGE_CONTAINER, EDGE_PORTS_CONTAINER, EDGE_SLOTS, retiringName } from './layout.js';

export interface GenerationWant {
  httpPort: number;
  httpsPort: number;
  /** The image a new generation runs. */
  image: string;
  /** Set when the service names the edge's image (proxy.edge.image): a running generation on another is replaced. */
  pinnedImage?: string;
  /** Writes the generation's config files for a slot (and the files they name); true when any of them changed. */
  writeFiles(slot: number): Promise<boolean>;
}

/** Returns the slot of the generation that serves new connections. */
export async function ensureGeneration(ctx: DeployContext, ssh: Runner, state: EdgeState, want: GenerationWant): Promise<number> {
  const say = (message: string) => ctx.report({ kind: 'step', host: ssh.name, message });
  const done = state.retiring.filter((c) => c.state !== 'running').map((c) => c.name);
  if (done.length) await ssh.run(removeContainers(done, 'remove edge generations that finished retiring'));
  if (state.legacy) {
    say(`replacing the edge of an older boxship (${EDGE_CONTAINER} published the ports itself): its clients reconnect once`);
    await ssh.run(removeContainers([EDGE_CONTAINER], 'remove the edge of an older boxship'));
  }
  const current = state.legacy ? undefined : state.current;
  if (!state.holder || !current || current.slot === undefined) return startFresh(ssh, state, want, say);

  if (state.holder.state !== 'running') await ssh.run(command('write', "start the edge's ports holder", 'docker', 'start', EDGE_PORTS_CONTAINER));
  if (current.state !== 'running') {
    await ssh.run(command('write', 'start the edge', 'docker', 'start', EDGE_CONTAINER));
    await ssh.run(waitEdgeReady(current.slot));
  }
  const slot = current.slot;
  const configChanged = await want.writeFiles(slot);
  const imageChanged = !!want.pinnedImage && want.pinnedImage !== current.image;
  if (!configChanged && !imageChanged) return slot;

  const busy = new Set([slot, ...state.retiring.filter((c) => c.state === 'running').flatMap((c) => (c.slot === undefined ? [] : [c.slot]))]);
  const next = Array.from({ length: EDGE_SLOTS }, (_, i) => i).find((i) => !busy.has(i));
  if (next === undefined) {
    throw new InputError(`${ssh.name}: ${EDGE_SLOTS - 1} earlier edge generations still hold connections, so the edge cannot be replaced now`, {
      hint: `run setup again once one has stopped (each stops when its last connection ends, within an hour), or end them: docker rm -f ${retiringName(0).replace(/0$/, '<slot>')}`,
    });
  }
  const image = imageChanged ? want.pinnedImage! : current.image;
  say(
    `replacing the edge (${imageChanged ? `image ${current.image} -> ${image}` : 'its config changed'}): generation ${next} takes new connections, generation ${slot} finishes the ones it holds`,
  );
  await want.writeFiles(next);
  await ssh.run(setAsideGeneration(slot));
  try {
    await ssh.run(startGeneration(image, next));
    await ssh.run(waitEdgeReady(next));
  } catch (e) {
    // Nothing changed for a client yet (new connections still go to `slot`): put the previous generation back.
    await ssh.exec(removeContainers([EDGE_CONTAINER], 'remove the edge generation that did not come up')).catch(() => undefined);
    await ssh.run(restoreGeneration(slot));
    throw e;
  }
  await ssh.run(routeNewConnections(next, want.httpPort, want.httpsPort));
  await ssh.run(retireGeneration(slot));
  return next;
}

async function startFresh(ssh: Runner, state: EdgeState, want: GenerationWant, say: (m: string) => void): Promise<number> {
  say(`starting the edge on ports ${want.httpPort} and ${want.httpsPort}`);
  const stale = [...(state.holder ? [EDGE_PORTS_CONTAINER] : []), ...(state.current ? [EDGE_CONTAINER] : [])];
  if (stale.length) await ssh.run(removeContainers(stale, 'remove an edge left half there'));
  const image = want.pinnedImage ?? want.image;
  await ssh.run(startEdgePorts(image, want.httpPort, want.httpsPort));
  await ssh.run(routeNewConnections(0, want.httpPort, want.httpsPort));
  // Its Caddy waits for the config written next (commands.ts).
  await ssh.run(startGeneration(image, 0));
  await want.writeFiles(0);
  await ssh.run(waitEdgeReady(0));
  return 0;
}
