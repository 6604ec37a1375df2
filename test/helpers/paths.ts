import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HostConfig } from '../../src/config/types.js';
import { MAX_SLOT, slot, swarmSpecsFor } from './host-slots.js';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/**
 * BOXSHIP_TEST_LANE=N (scripts/test-lanes.ts): one of several integration runs of this checkout side by side, each with
 * its own state (key, known_hosts, slot, pebble) under .boxship-test/lanes/N and its own hosts, labelled as this
 * checkout's lane N so that neither lane's `up`, `reset` or `down` touches the other's. scripts/test-hosts.sh derives
 * the same two values from the same variable.
 */
const LANE = process.env.BOXSHIP_TEST_LANE?.trim() || undefined;
if (LANE !== undefined && !/^\d{1,2}$/.test(LANE)) throw new Error(`BOXSHIP_TEST_LANE: want a lane number, got ${JSON.stringify(LANE)}`);
export const TEST_STATE = LANE === undefined ? join(REPO, '.boxship-test') : join(REPO, '.boxship-test', 'lanes', LANE);
/** What this run's hosts carry as their dev.boxship.test-checkout label: the checkout, and its lane when there is one. */
export const TEST_OWNER = LANE === undefined ? REPO : `${REPO}#lane-${LANE}`;
export const TEST_KEY = join(TEST_STATE, 'id_ed25519');
export const TEST_KNOWN_HOSTS = join(TEST_STATE, 'known_hosts');
export const BOXSHIP_BIN = join(REPO, 'bin', 'boxship.js');
/** The slot global-setup.ts picked for this checkout (host-slots.ts): its index, remembered from run to run. */
export const SLOT_FILE = join(TEST_STATE, 'host-slot');
export function rememberedSlot(): number | undefined {
  try {
    const n = Number(readFileSync(SLOT_FILE, 'utf8').trim());
    return Number.isInteger(n) && n >= 0 && n <= MAX_SLOT ? n : undefined;
  } catch {
    return undefined;
  }
}
const picked = (() => {
  const index = rememberedSlot();
  return index === undefined ? undefined : slot(index);
})();

export interface TestHost {
  name: string;
  container: string;
  sshPort: number;
  httpPort: number;
  address: string;
  /** The engine (scripts/test-hosts.sh): d20 = Docker 20.10 classic, d26 = Docker 26 classic, ctrd = Docker 26 containerd store, bare = none yet. */
  flavour: 'd20' | 'd26' | 'ctrd' | 'bare';
  store: 'classic' | 'containerd';
}

/**
 * The simulated hosts the integration suites use, as scripts/test-hosts.sh SPECs (name:sshport:httpport[:flavour]).
 * The default is a mixed fleet: Debian 12's Docker 20.10 (classic store) and Debian 13's Docker 26 with the
 * containerd image store. BOXSHIP_TEST_HOSTS picks others (e.g. "k1:2211:8091 k2:2212:8092:ctrd"), so a second
 * checkout or a helper working in parallel runs on hosts of its own instead of wiping ours. Without it, the tests use
 * the slot global-setup.ts picked for this checkout (the default unless another checkout's hosts hold it).
 */
export const HOST_SPECS = (process.env.BOXSHIP_TEST_HOSTS ?? picked?.hosts.join(' ') ?? 'a:2201:8081 b:2202:8082:ctrd').trim().split(/[\s,]+/);

function parseSpec(spec: string, what: string): TestHost {
  const m = /^([A-Za-z0-9][A-Za-z0-9_.-]*):(\d+):(\d+)(?::(d20|d26|ctrd|bare))?$/.exec(spec);
  if (!m) throw new Error(`${what}: bad spec ${JSON.stringify(spec)} (want name:sshport:httpport[:d20|d26|ctrd|bare])`);
  const [, name, ssh, http, f] = m as unknown as [string, string, string, string, TestHost['flavour'] | undefined];
  const flavour = f ?? 'd20';
  return {
    name,
    container: `boxship-host-${name}`,
    sshPort: Number(ssh),
    httpPort: Number(http),
    address: `root@127.0.0.1:${ssh}`,
    flavour,
    store: flavour === 'ctrd' ? 'containerd' : 'classic',
  };
}

export const HOSTS: readonly [TestHost, TestHost, ...TestHost[]] = (() => {
  const hosts = HOST_SPECS.map((spec) => parseSpec(spec, 'BOXSHIP_TEST_HOSTS'));
  if (hosts.length < 2) throw new Error('BOXSHIP_TEST_HOSTS: the integration tests need two hosts');
  return hosts as [TestHost, TestHost, ...TestHost[]];
})();

/**
 * The host without Docker that the bootstrap suite sets up from scratch (test/integration/bootstrap.test.ts resets it
 * itself, so it is not in HOST_SPECS). BOXSHIP_BARE_HOST picks another name and ports (flavour bare).
 */
export const BARE_HOST_SPEC = (process.env.BOXSHIP_BARE_HOST ?? picked?.bare ?? 'bare:2213:8093:bare').trim();
export const BARE_HOST: TestHost = parseSpec(BARE_HOST_SPEC, 'BOXSHIP_BARE_HOST');

/**
 * The two hosts the swarm suite (and bench:swarm) make into a swarm, manager first: BOXSHIP_SWARM_HOSTS, else the
 * ones that follow the bare host (host-slots.ts swarmSpecsFor). Not in HOST_SPECS: the suite brings them up, makes
 * the swarm, and leaves it again at the end, so no other suite ever runs on a swarm node.
 */
export const SWARM_HOST_SPECS = process.env.BOXSHIP_SWARM_HOSTS?.trim()
  ? process.env.BOXSHIP_SWARM_HOSTS.trim().split(/[\s,]+/)
  : swarmSpecsFor(BARE_HOST_SPEC);
export const SWARM_HOSTS: readonly [TestHost, TestHost, ...TestHost[]] = (() => {
  const hosts = SWARM_HOST_SPECS.map((spec) => parseSpec(spec, 'BOXSHIP_SWARM_HOSTS'));
  if (hosts.length < 2) throw new Error('BOXSHIP_SWARM_HOSTS: the swarm suite needs two hosts (manager first)');
  return hosts as [TestHost, TestHost, ...TestHost[]];
})();

/** known_hosts name of a test host, as OpenSSH writes it. */
export const knownName = (h: TestHost) => `[127.0.0.1]:${h.sshPort}`;

/** A test host as boxship's own config has it, for tests that connect with SshHost directly (the test key unless `agent`). */
export function testHostConfig(h: TestHost, auth: 'key' | 'agent' = 'key'): HostConfig {
  return {
    name: h.address,
    user: 'root',
    hostname: '127.0.0.1',
    port: h.sshPort,
    knownHosts: TEST_KNOWN_HOSTS,
    ...(auth === 'key' ? { identityFile: TEST_KEY } : {}),
    instances: 1,
  };
}
