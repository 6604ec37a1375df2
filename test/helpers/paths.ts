import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const TEST_STATE = join(REPO, '.boxship-test');
export const TEST_KEY = join(TEST_STATE, 'id_ed25519');
export const TEST_KNOWN_HOSTS = join(TEST_STATE, 'known_hosts');
export const BOXSHIP_BIN = join(REPO, 'bin', 'boxship.js');

export interface TestHost {
  name: string;
  container: string;
  sshPort: number;
  httpPort: number;
  address: string;
}

/**
 * The simulated hosts the integration suites use, as scripts/test-hosts.sh SPECs (name:sshport:httpport).
 * BOXSHIP_TEST_HOSTS picks others (e.g. "k1:2211:8091 k2:2212:8092"), so a second checkout or a helper working in
 * parallel runs on hosts of its own instead of wiping ours.
 */
export const HOST_SPECS = (process.env.BOXSHIP_TEST_HOSTS ?? 'a:2201:8081 b:2202:8082').trim().split(/[\s,]+/);

export const HOSTS: readonly [TestHost, TestHost, ...TestHost[]] = (() => {
  const hosts = HOST_SPECS.map((spec): TestHost => {
    const m = /^([A-Za-z0-9][A-Za-z0-9_.-]*):(\d+):(\d+)$/.exec(spec);
    if (!m) throw new Error(`BOXSHIP_TEST_HOSTS: bad spec ${JSON.stringify(spec)} (want name:sshport:httpport)`);
    const [, name, ssh, http] = m as unknown as [string, string, string, string];
    return { name, container: `boxship-host-${name}`, sshPort: Number(ssh), httpPort: Number(http), address: `root@127.0.0.1:${ssh}` };
  });
  if (hosts.length < 2) throw new Error('BOXSHIP_TEST_HOSTS: the integration tests need two hosts');
  return hosts as [TestHost, TestHost, ...TestHost[]];
})();

/** known_hosts name of a test host, as OpenSSH writes it. */
export const knownName = (h: TestHost) => `[127.0.0.1]:${h.sshPort}`;
