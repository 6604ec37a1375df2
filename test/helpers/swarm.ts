/**
 * A two-node Docker Swarm of simulated hosts for the swarm suite and bench:swarm: fresh hosts (reset), made into a
 * swarm (the first host initialises it, advertising its address on the test network; the others join as workers),
 * and taken apart again at the end.
 *
 * Fresh hosts rather than `docker swarm leave` and a new `join` on the same engines: Docker 20.10 re-joining without
 * a restart of dockerd can fail to start its gossip agent ("error in agentInit: ... listen tcp 0.0.0.0:7946: bind:
 * address already in use" in dockerd's log), and then the node's overlay DNS never learns the other nodes' tasks.
 */
import { execFileSync } from 'node:child_process';
import { onHost, wipeHost } from './run.js';
import { REPO, SWARM_HOST_SPECS, SWARM_HOSTS, type TestHost } from './paths.js';

/** The host container's address on the test network (what the other nodes reach it at). */
export function testnetAddress(h: TestHost): string {
  return execFileSync('docker', ['inspect', '--format', '{{(index .NetworkSettings.Networks "boxship-testnet").IPAddress}}', h.container], {
    encoding: 'utf8',
  }).trim();
}

/** Leaves any swarm and removes every container, image, network and boxship state dir on the hosts. */
export async function takeSwarmApart(hosts: readonly TestHost[] = SWARM_HOSTS): Promise<void> {
  await Promise.all(hosts.map((h) => onHost(h.container, 'docker swarm leave --force >/dev/null 2>&1; true')));
  await Promise.all(hosts.map((h) => wipeHost(h.container)));
}

/** Fresh hosts made into a swarm: the first is the manager. Returns the hosts, manager first. */
export async function makeSwarm(): Promise<readonly TestHost[]> {
  execFileSync('bash', ['scripts/test-hosts.sh', 'reset', ...SWARM_HOST_SPECS], { cwd: REPO, stdio: ['ignore', 2, 2] });
  const [manager, ...workers] = SWARM_HOSTS;
  const addr = testnetAddress(manager);
  await onHost(manager.container, `docker swarm init --advertise-addr ${addr} >/dev/null`);
  const token = (await onHost(manager.container, 'docker swarm join-token -q worker')).trim();
  await Promise.all(
    workers.map((w) => onHost(w.container, `docker swarm join --advertise-addr ${testnetAddress(w)} --token ${token} ${addr}:2377 >/dev/null`)),
  );
  for (const h of SWARM_HOSTS) {
    const broken = await onHost(h.container, 'grep "error in agentInit" /var/log/dockerd.log || true');
    if (broken.trim()) throw new Error(`${h.name}: the swarm's gossip agent did not start, its overlay DNS would not work:\n${broken}`);
  }
  return SWARM_HOSTS;
}

/** `docker service ps` of the running tasks: node per task. */
export async function runningTasks(manager: TestHost, service: string): Promise<{ name: string; node: string; image: string }[]> {
  const out = await onHost(
    manager.container,
    `docker service ps ${service} --filter desired-state=running --format '{{.Name}} {{.Node}} {{.Image}} {{.CurrentState}}' 2>/dev/null || true`,
  );
  return out
    .split('\n')
    .filter((l) => / Running /.test(l))
    .map((l) => {
      const [name = '', node = '', image = ''] = l.split(' ');
      return { name, node, image };
    });
}
