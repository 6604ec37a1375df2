/** THROWAWAY: the Swarm commands over swarmBackend, to run the integration suite against the backend (reverted). */
import type { Config, HostConfig } from '../config/types.js';
import type { ProxyMode } from '../proxy/caddy-config.js';
import type { BackendEnv } from '../backend/types.js';
import type { DeployContext } from '../fleet/context.js';
import { swarmBackend } from '../swarm/backend.js';
import { ExitCode, InputError } from '../util/errors.js';
import type { ProgressEvent } from '../util/events.js';
import { localDocker, type GlobalOptions } from './context.js';
import { commandLine, eventLine, withProgress } from './fleet-session.js';
import { onInterrupt } from './interrupt.js';
import { printJson } from './json-output.js';
import { renderCatchUpProblems, renderSwarmDeploy, renderSwarmMaintenance, renderSwarmSetup, renderSwarmSkipped, renderSwarmStatus } from './render/swarm.js';

const stderrReport = (e: ProgressEvent) => {
  const line = eventLine(e);
  if (!line) return;
  if (e.kind === 'warning') process.stderr.write(`warning: ${line}\n`);
  else process.stderr.write(`${line}\n`);
};

function cliEnv(globals: GlobalOptions, interrupt = { requested: false }): BackendEnv {
  const holder = { report: stderrReport } as unknown as DeployContext;
  return {
    step: (title, work, failed) => withProgress(title, holder, work, failed),
    report: (e) => holder.report(e),
    interrupt,
    commandLine: commandLine(),
    acceptNewHostKeys: globals.acceptNewHostKeys,
    docker: localDocker,
    hookIo: { stdout: process.stdout, stderr: process.stderr },
  };
}

function printPlan(plan: { title: string; notes: string[]; hosts: { name: string; steps: string[] }[] }): void {
  process.stdout.write(`Plan: ${plan.title}; nothing has been run.\n`);
  for (const n of plan.notes) process.stdout.write(`${n}\n`);
  for (const h of plan.hosts) process.stdout.write(`\n${h.name}\n${h.steps.join('\n')}\n`);
}

export async function prepareSwarmRelease(
  config: Config,
  globals: GlobalOptions,
  selected?: HostConfig[],
): Promise<{ hosts: HostConfig[]; catchUp: { host: string; tag: string; ok: boolean; error?: string }[] }> {
  const t = await swarmBackend(config, cliEnv(globals)).releaseTargets(selected);
  renderSwarmSkipped(t, process.stderr);
  return { hosts: t.hosts, catchUp: t.caughtUp };
}

export function printCatchUpProblems(results: { host: string; tag: string; ok: boolean; error?: string }[]): number {
  renderCatchUpProblems(results, process.stderr);
  return results.some((r) => !r.ok) ? ExitCode.failed : ExitCode.ok;
}

export interface SwarmDeployRequest {
  kind: 'rollout' | 'rollback';
  wanted?: string;
  canary?: number;
  plan?: boolean;
}

export async function swarmDeploy(globals: GlobalOptions, config: Config, req: SwarmDeployRequest): Promise<{ code: number }> {
  const interrupt = { requested: false };
  const stop = onInterrupt(() => (interrupt.requested = true));
  try {
    const r = await swarmBackend(config, cliEnv(globals, interrupt)).deploy(req);
    if (r.backend === 'plan') printPlan(r.plan);
    else if (r.backend === 'swarm') renderSwarmDeploy(r, process.stdout, process.stderr);
    return { code: r.exitCode };
  } finally {
    stop();
  }
}

export async function swarmSetup(globals: GlobalOptions, config: Config): Promise<number> {
  const r = await swarmBackend(config, cliEnv(globals)).setup({});
  if (r.backend === 'plan') printPlan(r.plan);
  else renderSwarmSetup(r, process.stdout, process.stderr);
  return r.exitCode;
}

export async function swarmMaintenance(globals: GlobalOptions, config: Config, mode: ProxyMode, plan: boolean | undefined): Promise<void> {
  const r = await swarmBackend(config, cliEnv(globals)).maintenance({ mode, plan });
  if (r.backend === 'plan') printPlan(r.plan);
  else renderSwarmMaintenance(r, process.stdout);
}

export async function swarmStatusCommand(globals: GlobalOptions, config: Config, json: boolean): Promise<number> {
  const r = await swarmBackend(config, cliEnv(globals)).status();
  if (r.backend !== 'swarm') return ExitCode.failed;
  if (json) printJson(r.status);
  else process.stdout.write(renderSwarmStatus(r.status));
  return r.exitCode;
}

export function notOnSwarm(config: Config, what: string, instead: string): void {
  if (config.swarm) throw new InputError(`${what} is not available with backend: swarm yet`, { hint: instead });
}
