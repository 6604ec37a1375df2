/**
 * The remote commands of `boxship remove` (pure: Command data, tested as exact argv). Everything a service has on a
 * host is found by its own names and labels (fleet/names.ts), so nothing of another service on the same server is
 * ever matched: its containers carry another service label, its images another repository, its network another name.
 */
import { ONE_OFF_LABEL } from '../exec/commands.js';
import { LABEL, names } from '../fleet/names.js';
import { type Command, script } from '../hosts/command.js';

/** Containers of the service: its instances (any colour, any slot, incoming or draining), accessories and one-offs. */
const LIST_BY_LABELS = 'for l in "$1=$2" "$3=$2"; do docker ps -a --filter "label=$l" --format "{{.Names}}"; done | sort -u';

/** The names of every container labelled with the service (instances, accessories, one-off containers), one a line. */
export function listServiceContainers(service: string): Command {
  return script('read', `list the containers of ${service}`, LIST_BY_LABELS, LABEL.service, service, ONE_OFF_LABEL);
}

/**
 * Stops (up to the app's stop timeout, so a request in flight or a job can finish) and removes every container
 * labelled with the service; fails naming any that is still there. A one-off container started with --rm may go by
 * itself while this runs, so a failed stop or rm is judged by the list afterwards, not by its exit status.
 */
export function removeServiceContainers(service: string, stopTimeoutSeconds: number): Command {
  return {
    ...script(
      'write',
      `stop and remove every container of ${service} (up to ${stopTimeoutSeconds}s to stop)`,
      [
        `ids=$(${LIST_BY_LABELS})`,
        '[ -n "$ids" ] || exit 0',
        'docker stop -t "$4" $ids >/dev/null 2>&1 || true',
        'docker rm -f $ids >/dev/null 2>&1 || true',
        `left=$(${LIST_BY_LABELS} | tr "\\n" " ")`,
        '[ -z "$left" ] || { echo "still there: $left" >&2; exit 1; }',
      ].join('\n'),
      LABEL.service,
      service,
      ONE_OFF_LABEL,
      String(stopTimeoutSeconds),
    ),
    timeoutMs: (stopTimeoutSeconds + 60) * 1000,
  };
}

/** Removes the service network if it exists; prints `absent` when there was none. */
export function removeNetwork(service: string): Command {
  return script(
    'write',
    `remove the ${names.network(service)} network`,
    'docker network inspect "$1" >/dev/null 2>&1 || { echo absent; exit 0; }\ndocker network rm "$1" >/dev/null',
    names.network(service),
  );
}

/**
 * Removes one release image by its tag (never by ID, never forced: an image another container still runs stays, and
 * docker's refusal says which). Prints `absent` when the host no longer has it (pruned earlier).
 */
export function removeReleaseImage(service: string, tag: string): Command {
  return script(
    'write',
    `remove the release image ${names.image(service, tag)}`,
    'docker image inspect "$1" >/dev/null 2>&1 || { echo absent; exit 0; }\ndocker image rm "$1" >/dev/null',
    names.image(service, tag),
  );
}

/**
 * Empties the service's state dir while the deploy lock is held, keeping the lock itself and the audit log (the
 * lock's release and the run's audit line come after this; finishStateDir removes both). With `keepData`, the app's
 * volumes (`volumes/`) and the accessories' data folders (`accessories/<name>/`) stay; the accessories' env files
 * (secrets) go either way, and so do folders left empty.
 */
export function removeStateFiles(stateDir: string, keepData: boolean): Command {
  const keep = keepData ? 'lock|audit.log|volumes|accessories' : 'lock|audit.log';
  return script(
    'write',
    keepData ? 'remove the state files of the service (its data folders stay)' : 'remove the state files and the DATA of the service',
    [
      'cd "$1" 2>/dev/null || exit 0',
      `for f in * .[!.]*; do case "$f" in ${keep}) ;; *) rm -rf "./$f";; esac; done`,
      'rm -f accessories/*.env',
      'for d in volumes accessories; do [ -d "$d" ] && find "$d" -depth -type d -empty -delete; done; true',
    ].join('\n'),
    stateDir,
  );
}

/**
 * After the lock is given back: removes the audit log and the state dir if nothing else is left in it. Prints
 * `locked` (and removes nothing) when another command has taken the lock since, `kept` when data folders remain.
 */
export function finishStateDir(stateDir: string): Command {
  return script(
    'write',
    'remove the state dir of the service',
    '[ -d "$1" ] || exit 0\n[ -d "$1/lock" ] && { echo locked; exit 0; }\nrm -f "$1/audit.log"\nrmdir "$1" 2>/dev/null || echo kept',
    stateDir,
  );
}
