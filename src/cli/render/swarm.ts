/**
 * What the Swarm backend's results say to a person: the outcome of a rollout or rollback with its next command,
 * setup and maintenance, the releases a new node could not be caught up with, and `status`. The backend returns
 * data (src/swarm); only this module turns it into text, so the texts are in one place (integration tests grep them).
 */
import type { DeployResult, MaintenanceResult, ReleaseTargets, SetupResult } from '../../backend/types.js';
import { describeGate } from '../../swarm/health.js';
import type { SwarmStatusJson } from '../../swarm/status.js';

type Out = NodeJS.WritableStream;
type SwarmDeploy = Extract<DeployResult, { backend: 'swarm' }>;

const short = (t: string) => t.slice(0, 12);

/**
 * Before `release` builds: the nodes that get no release, then the earlier releases a node that joined could not be
 * given (the exit code is t.exitCode).
 */
export function renderReleaseTargets(t: ReleaseTargets, err: Out = process.stderr): void {
  for (const s of t.skipped) err.write(`${s.host}${s.node ? ` (node ${s.node})` : ''} gets no release: ${s.why}\n`);
  renderCatchUpProblems(t.caughtUp, err);
}

/** Earlier releases a node that joined could not be given, and how to fix that. */
function renderCatchUpProblems(caughtUp: ReleaseTargets['caughtUp'], err: Out): void {
  for (const f of caughtUp.filter((r) => !r.ok))
    err.write(
      `\nerror: ${f.error}\nhint: release it again from a checkout of that commit (git checkout ${f.tag.slice(0, 12)} && boxship release), then come back\n`,
    );
}

/** How a rollout or rollback on the swarm ended, and the command to run next. */
export function renderSwarmDeploy(r: SwarmDeploy, out: Out = process.stdout, err: Out = process.stderr): void {
  const o = r.outcome;
  const svc = r.service;
  const replicas = r.replicas;
  if (o.kind === 'done') {
    if (o.action === 'canary') {
      out.write(
        `\nCanary: ${r.canary} task(s) of ${svc}:${short(o.target)} run beside the ${replicas} of the service, behind the same proxies.\nTo promote, run: boxship rollout --sha ${short(o.target)}\nTo abort, run: boxship rollback\n`,
      );
    } else if (o.action === 'canary-removed') {
      out.write(`\nCanary aborted: its service was removed; ${svc}:${short(o.target)} serves on all ${replicas} task(s).\n`);
    } else if (o.action === 'unchanged') {
      out.write(`\n${svc}:${short(o.target)} already serves on all ${replicas} task(s); nothing changed.\n`);
    } else {
      out.write(
        `\n${svc}:${short(o.target)} serves on all ${replicas} task(s) (${o.action === 'created' ? 'service created' : 'rolling update'} in ${o.seconds.toFixed(1)}s, gated on ${o.gate ? describeGate(o.gate) : 'health'}).\nTo undo, run: boxship rollback\n`,
      );
    }
    return;
  }
  if (o.kind === 'interrupted') {
    err.write(
      `\nInterrupted: boxship stopped following the update to ${short(o.target)}; Swarm carries on with it by itself (and rolls it back if a task fails).\nTo see where it is, run: boxship status\n`,
    );
    return;
  }
  if (o.kind === 'rolled-back') {
    err.write(`\nerror: ${o.error}\n`);
    if (o.canary) err.write(`\nThe canary failed and was removed; the service's own tasks never changed.\n`);
    else if (o.created) err.write(`\nThe new service failed and was removed again: nothing served before, nothing serves now.\n`);
    else err.write(`\nRolled back: Swarm put the previous release back on every task (--update-failure-action rollback). Nothing else changed.\n`);
    err.write('hint: look at the output above, fix the release, then run: boxship release && boxship rollout\n');
    return;
  }
  err.write(`\nerror: ${o.error}\n\nThe update neither completed nor rolled back cleanly.\n`);
  err.write(
    `What to do next: run \`boxship status\` (and \`docker service ps ${svc}\` on the manager) to see what serves; fix the node or release named above; then run \`boxship rollback --to <the release that served before>\`.\n`,
  );
}

export function renderSwarmSetup(r: Exclude<SetupResult, { backend: 'plan' }>, out: Out = process.stdout, err: Out = process.stderr): void {
  renderCatchUpProblems(r.caughtUp, err);
  out.write(`\n${r.hosts} nodes are ready (overlay network, proxy on each). Next: boxship release, then boxship rollout.\n`);
}

export function renderSwarmMaintenance(r: Exclude<MaintenanceResult, { backend: 'plan' }>, out: Out = process.stdout): void {
  if (r.mode.kind === 'maintenance')
    out.write(
      `\nMaintenance is on on every node: every request gets 503 with Retry-After: ${r.mode.retryAfterSeconds}.\nTo undo, run: boxship maintenance off\n`,
    );
  else out.write('\nMaintenance is off: the proxies serve the tasks again.\nTo undo, run: boxship maintenance on\n');
}

export function renderSwarmStatus(s: SwarmStatusJson, out: Out = process.stdout): void {
  out.write(swarmStatusText(s));
}

/** `status` as text (what renderSwarmStatus writes). */
export function swarmStatusText(s: SwarmStatusJson): string {
  const short = (t?: string) => (t ? t.slice(0, 12) : '-');
  const lines: string[] = [];
  if (!s.service) lines.push(`service:  none yet (run: boxship rollout)   manager: ${s.manager}`);
  else {
    lines.push(
      `service:  ${s.service.name} ${s.service.image.replace(/:([0-9a-f]{12})[0-9a-f]*/, ':$1')}, ${s.service.running} of ${s.service.replicas} task(s) running   manager: ${s.manager}`,
    );
    if (s.service.update) lines.push(`update:   ${s.service.update.state}${s.service.update.message ? ` (${s.service.update.message})` : ''}`);
    lines.push(
      `health:   ${s.service.healthcheck ? `derived by boxship: ${s.service.healthcheck.slice(1).join(' ')}` : 'the image\'s HEALTHCHECK, if it has one (else only "running")'}`,
    );
  }
  if (s.canary)
    lines.push(
      `canary:   ${s.canary.name} ${s.canary.image}, ${s.canary.running} of ${s.canary.replicas} task(s) running (promote: boxship rollout; abort: boxship rollback)`,
    );
  lines.push(`current:  ${s.current ?? '-'}`, `previous: ${s.previous ?? '-'}`);
  if (s.lock)
    lines.push(`lock:     held by ${s.lock.who} running "${s.lock.command}" since ${s.lock.time}${s.lock.stale ? ` (INTERRUPTED RUN: ${s.lock.stale})` : ''}`);
  for (const n of s.nodes) {
    lines.push('', `${n.host}  node ${n.node} (${n.role}, ${n.availability}, ${n.state})`);
    lines.push(`  proxy:    ${n.proxy}${n.mode === 'maintenance' ? ' (MAINTENANCE: every request gets 503)' : ''}`);
    if (n.tasks.length === 0) lines.push('  tasks:    none');
    for (const t of n.tasks) lines.push(`  ${t.task.padEnd(24)} ${short(t.tag).padEnd(12)} ${t.health}${t.service !== s.service?.name ? '  (canary)' : ''}`);
  }
  for (const u of s.unreachable) lines.push('', `${u.host}`, `  unreachable: ${u.error}`);
  return `${lines.join('\n')}\n`;
}
