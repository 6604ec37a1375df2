/**
 * Puts a host back in a clean state after a run that was cut off (Ctrl-C twice, SIGKILL, a lost connection, a
 * reboot): every slot ends with at most its live instance, no `.next` serving beside it, and old instances drained.
 * Which leftover means what follows from the order of a move (start `.next` -> healthy -> hand over -> drain):
 * - live runs, `.next` exists: the hand-over never happened; `.next` goes (it may not even be healthy).
 * - live is gone, `.next` and an `.old-*` exist: the hand-over was cut between its renames; `.next` passed its health
 *   check (the hand-over only starts after it), so it takes the slot.
 * - live is gone, only an `.old-*` runs: it takes its name back.
 * - `.old-*` beside a live instance: a drain that was cut off; it is drained again.
 * - `.old-*` with a drain marker that is not overdue (startDrain): a drain a finished run left going on purpose; it is
 *   left alone (drainsInProgress lists it, for the run to wait on only if it needs its colour).
 * Pure planning (convergeSteps) plus the loop that runs it.
 */
import type { Config } from '../config/types.js';
import type { Command } from '../hosts/command.js';
import type { Runner } from '../hosts/runner.js';
import type { InstanceInfo } from './instance-commands.js';
import { drainMarkers, removeNow, startDrain } from './instance-commands.js';
import { names } from '../fleet/names.js';
import { stopSeconds } from './swap.js';
import { proxyHostDir, setLiveColour } from '../proxy/commands.js';
import { stateDir } from '../state/paths.js';
import { toShell } from '../hosts/command.js';

export interface ConvergeStep {
  command: Command;
  /** What the user is told: one line naming the container and what happens to it. */
  note: string;
  /** A container left draining, to be waited for like the run's own drains. */
  draining?: string;
}

/** The container takes the slot's name, and the proxy routes the slot to its colour (see caddy-config.ts). */
function takeName(config: Config, c: InstanceInfo, to: string): Command {
  const route = setLiveColour(proxyHostDir(stateDir(config.service)), c.slot, c.colour);
  return {
    argv: ['sh', '-c', `docker rename "$1" "$2" && docker update --restart unless-stopped "$2" >/dev/null && ${toShell(route)}`, 'sh', c.name, to],
    why: `give ${c.name} the slot's name ${to}`,
    effect: 'write',
  };
}

/**
 * Seconds past its deadline a marked drain is still trusted: the drain's own `docker stop` may take that long to kill
 * and remove. Beyond it, the drain process is taken for dead (a host reboot) and the instance is drained again.
 */
const OVERDUE_GRACE_SECONDS = 10;

/** A drain that a run started and that is still under way (or just finishing): not a leftover. */
const drainInProgress = (c: InstanceInfo) => c.drainingFor !== undefined && c.drainingFor > -OVERDUE_GRACE_SECONDS;

/** The old instances draining on purpose, left going by an earlier run. */
export const drainsInProgress = (containers: InstanceInfo[]) => containers.filter(drainInProgress).map((c) => c.name);

export function convergeSteps(config: Config, containers: InstanceInfo[]): ConvergeStep[] {
  const s = config.service;
  const steps: ConvergeStep[] = [];
  const slots = [...new Set(containers.map((c) => c.slot).filter((n) => Number.isInteger(n)))].sort((a, b) => a - b);
  for (const slot of slots) {
    const live = names.instance(s, slot);
    const next = names.incoming(s, slot);
    const oldPrefix = `${s}-${slot}.old-`;
    const mine = containers.filter((c) => c.slot === slot);
    const liveC = mine.find((c) => c.name === live);
    const nextC = mine.find((c) => c.name === next);
    const olds = mine.filter((c) => c.name.startsWith(oldPrefix) && !drainInProgress(c));
    const drainAll = (list: InstanceInfo[]) => {
      for (const o of list) {
        if (o.running)
          steps.push({
            command: startDrain(o.name, stopSeconds(config), drainMarkers(config.service)),
            note: `${o.name}: an old instance left by an interrupted run; draining it`,
            draining: o.name,
          });
        else steps.push({ command: removeNow(o.name), note: `${o.name}: a stopped old instance left by an interrupted run; removed` });
      }
    };
    if (liveC) {
      if (nextC) steps.push({ command: removeNow(next), note: `${next}: started by an interrupted run but never handed over; removed` });
      drainAll(olds);
      continue;
    }
    const runningOld = olds.find((o) => o.running);
    if (nextC?.running && olds.length > 0) {
      steps.push({
        command: takeName(config, nextC, live),
        note: `${next}: passed its health check before the run was cut off mid-hand-over; it takes the slot`,
      });
      drainAll(olds);
    } else if (runningOld) {
      if (nextC) steps.push({ command: removeNow(next), note: `${next}: started by an interrupted run but never handed over; removed` });
      steps.push({ command: takeName(config, runningOld, live), note: `${runningOld.name}: the slot's instance, renamed back to ${live}` });
      drainAll(olds.filter((o) => o !== runningOld));
    } else {
      if (nextC) steps.push({ command: removeNow(next), note: `${next}: started by an interrupted run but never handed over; removed` });
      drainAll(olds);
    }
  }
  return steps;
}

/** Runs the steps on one host; returns the containers left draining. */
export async function converge(ssh: Runner, steps: ConvergeStep[], report: (note: string) => void): Promise<string[]> {
  const draining: string[] = [];
  for (const step of steps) {
    report(step.note);
    await ssh.run(step.command);
    if (step.draining) draining.push(step.draining);
  }
  return draining;
}
