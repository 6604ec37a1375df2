/**
 * The results every backend returns, rendered: a plan the same way for all, the rest by the backend that made it
 * (the per-host renderers here and in rollout.ts/status.ts, the Swarm ones in swarm.ts).
 */
import type { DeployResult, MaintenanceResult, ReleaseTargets, SetupResult, StatusResult } from '../../backend/types.js';
import { printJson } from '../json-output.js';
import { printPlan } from './plan.js';
import { renderHostsDeploy } from './rollout.js';
import { renderHostStatus } from './status.js';
import * as swarm from './swarm.js';

export function renderDeploy(r: DeployResult): void {
  if (r.backend === 'plan') printPlan(r.plan);
  else if (r.backend === 'hosts') renderHostsDeploy(r);
  else swarm.renderSwarmDeploy(r, process.stdout, process.stderr);
}

/** Before a release: what a backend left out or caught up (only Swarm does either). */
export function renderTargets(t: ReleaseTargets): void {
  swarm.renderReleaseTargets(t);
}

export function renderSetup(r: SetupResult): void {
  if (r.backend === 'plan') printPlan(r.plan);
  else if (r.backend === 'swarm') swarm.renderSwarmSetup(r, process.stdout, process.stderr);
  else process.stdout.write(`\n${r.hosts} hosts are ready. Next: boxship release, then boxship rollout.\n`);
}

export function renderMaintenance(r: MaintenanceResult): void {
  if (r.backend === 'plan') printPlan(r.plan);
  else if (r.backend === 'swarm') swarm.renderSwarmMaintenance(r, process.stdout);
  else if (r.mode.kind === 'maintenance') {
    process.stdout.write(`\nMaintenance is on: every request gets 503 with Retry-After: ${r.mode.retryAfterSeconds}.\nTo undo, run: boxship maintenance off\n`);
  } else process.stdout.write('\nMaintenance is off: the proxy serves the instances again.\nTo undo, run: boxship maintenance on\n');
}

export function renderStatus(r: StatusResult, json: boolean): void {
  if (r.backend === 'swarm') {
    if (json) printJson(r.status);
    else swarm.renderSwarmStatus(r.status);
  } else if (json) printJson(r.rows);
  else for (const row of r.rows) process.stdout.write(renderHostStatus(row));
}
