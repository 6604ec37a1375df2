/** How a rollout or rollback on the per-host backend ended, told to the user with the next command to run. */
import type { DeployResult } from '../../backend/types.js';
import { shortSha as short } from '../../util/short.js';

type HostsDeploy = Extract<DeployResult, { backend: 'hosts' }>;

export function renderHostsDeploy(r: HostsDeploy): void {
  const { outcome: o, service, total } = r;
  if (r.hookFailure) {
    process.stderr.write(`\nerror: ${r.hookFailure.message}\nhint: ${r.hookFailure.hint}\n`);
    return;
  }
  if (o.kind === 'done') {
    if (o.complete) {
      process.stdout.write(
        `\n${service}:${short(o.target)} serves on all ${total} instances (${o.moved.length} moved${o.roles?.length ? `, and ${o.roles.length} role container(s)` : ''}).\nTo undo, run: boxship rollback\n`,
      );
    } else {
      const on = total - o.remaining;
      const roles =
        o.roles?.length || o.rolesRemaining ? ` and ${o.roles?.length ?? 0} of ${(o.roles?.length ?? 0) + (o.rolesRemaining ?? 0)} role container(s)` : '';
      process.stdout.write(
        `\nCanary: ${on} of ${total} instances${roles} run ${short(o.target)}; the rest still run the current release.\nTo promote, run: boxship rollout --sha ${short(o.target)}\nTo abort, run: boxship rollback\n`,
      );
    }
    return;
  }
  if (o.kind === 'interrupted') {
    process.stderr.write(
      `\nInterrupted: ${o.moved.length} instance(s)${o.roles?.length ? ` and ${o.roles.length} role container(s)` : ''} moved to ${short(o.target)}, ${o.remaining}${o.rolesRemaining ? ` and ${o.rolesRemaining} role container(s)` : ''} still run the release they had; every move finished cleanly and the lock is released.\n`,
    );
    process.stderr.write(
      `To finish, run: boxship rollout --sha ${short(o.target)}\nTo go back, run: boxship rollback\nTo see each host, run: boxship status\n`,
    );
    return;
  }
  if (o.kind === 'rolled-back') {
    process.stderr.write(`\nerror: ${o.error.message}\n`);
    const roles = o.roles?.length ? ` and ${o.roles.length} role container(s)` : '';
    process.stderr.write(
      `\nRolled back: the ${o.moved.length} instance(s)${roles} this run had changed run their previous release again. Nothing else changed.\n`,
    );
    process.stderr.write('hint: look at the output above, fix the release, then run: boxship release && boxship rollout\n');
    return;
  }
  process.stderr.write(`\nerror: ${o.error.message}\n\nThe automatic rollback failed too: ${o.rollbackError.message}\n`);
  process.stderr.write(
    `Instances not put back:\n${[
      ...o.stuck.map((m) => `  ${m.host} slot ${m.slot}: should run ${m.to ? short(m.to) : '(nothing)'}`),
      ...(o.stuckRoles ?? []).map((m) => `  ${m.host} role ${m.role} slot ${m.slot}: should run ${m.to ? short(m.to) : '(nothing)'}`),
    ].join('\n')}\n`,
  );
  process.stderr.write(
    'What to do next: run `boxship status` to see what serves; fix the host named above; then run `boxship rollback --to <the release that served before>`.\n',
  );
}
