/**
 * The deployer's own engine may use either image store. Here it is a simulated host's Docker 26 on the containerd
 * store (its socket forwarded over SSH), whose `docker save` writes an OCI layout with the layers as the store holds
 * them (gzip blobs for an image that arrived compressed); the spool must turn that into the exact image a classic
 * Docker 20.10 host gets from a classic deployer: same config bytes, so the same image ID.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { openFleet } from '../../src/hosts/fleet.js';
import { shipImage } from '../../src/ship/ship-image.js';
import { silent } from '../../src/util/events.js';
import { compressedOnly, loadGzipped } from '../helpers/compressed.js';
import { exampleConfigYaml, makeExampleApp } from '../helpers/example.js';
import { HOSTS, TEST_KEY, TEST_KNOWN_HOSTS } from '../helpers/paths.js';
import { onHost, wipeHost } from '../helpers/run.js';

const IMAGE = 'boxship-proxy:caddy-2.6.2';
const deployer = HOSTS.find((h) => h.store === 'containerd');
// Docker 20.10 in the default fleet; any classic-store host will do.
const target = HOSTS.find((h) => h.flavour === 'd20') ?? HOSTS.find((h) => h.store === 'classic');

describe.runIf(deployer && target)('a deployer engine on the containerd store', () => {
  let forward: ChildProcess;
  let socket: string;

  beforeAll(async () => {
    socket = join(mkdtempSync(join(tmpdir(), 'boxship-dockersock-')), 'docker.sock');
    forward = spawn(
      'ssh',
      [
        '-F',
        '/dev/null',
        '-i',
        TEST_KEY,
        '-o',
        'IdentitiesOnly=yes',
        '-o',
        'BatchMode=yes',
        '-o',
        `UserKnownHostsFile=${TEST_KNOWN_HOSTS}`,
        '-o',
        'StrictHostKeyChecking=yes',
        '-N',
        '-L',
        `${socket}:/var/run/docker.sock`,
        '-p',
        String(deployer!.sshPort),
        'root@127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    for (let i = 0; i < 100 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(socket)).toBe(true);
    await Promise.all([wipeHost(deployer!.container), wipeHost(target!.container)]);
    // The deployer holds the image as a registry pull leaves it: gzip layers, so its save carries gzip blobs.
    await loadGzipped(deployer!.container, IMAGE);
  });

  afterAll(() => {
    forward?.kill();
  });

  it('saves in OCI layout with gzip layers, and a classic-store host gets the same image, which runs', async () => {
    const docker = new Docker({ socketPath: socket });
    const info = await docker.info();
    expect(JSON.stringify(info.DriverStatus)).toContain('io.containerd.snapshotter');
    const localId = execFileSync('docker', ['image', 'inspect', '--format', '{{.Id}}', IMAGE], { encoding: 'utf8' }).trim();
    const onDeployer = await docker.getImage(IMAGE).inspect();
    // Precondition: on the deployer the image is named by its manifest, and its layers are held only compressed.
    expect(onDeployer.Id).not.toBe(localId);
    const diffs = onDeployer.RootFS.Layers ?? [];
    const held = compressedOnly(deployer!.container);
    expect(diffs.length).toBeGreaterThan(0);
    for (const d of diffs) expect(held.has(d), d).toBe(true);

    const app = makeExampleApp();
    const config = parseConfig(exampleConfigYaml({ hosts: [target!.address] }), join(app.dir, 'boxship.yml'));
    const fleet = await openFleet(config.hosts);
    const connections = fleet.connections;
    try {
      const image = { imageId: onDeployer.Id, ref: IMAGE, tag: IMAGE, sha: '' };
      const first = await shipImage({ config, docker, image, connections, report: silent, recordRelease: false });
      const r = first.hosts[0]!;
      expect(r.error).toBeUndefined();
      expect(r).toMatchObject({ ok: true, store: 'classic', layersSent: diffs.length, layersSkipped: 0, imageId: localId });
      // Same config bytes as the classic save here: the same image ID, and the image runs.
      expect((await onHost(target!.container, `docker image inspect --format '{{.Id}}' ${IMAGE}`)).trim()).toBe(localId);
      expect(await onHost(target!.container, `docker run --rm --pull never ${IMAGE} caddy version`)).toMatch(/^v?2\.6\./);

      const again = await shipImage({ config, docker, image, connections, report: silent, recordRelease: false });
      expect(again.hosts[0]).toMatchObject({ ok: true, alreadyPresent: true, bytesSent: 0 });
    } finally {
      fleet.close();
    }
  });
});
