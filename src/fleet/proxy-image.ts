/**
 * The proxy image on a host, for both backends (the per-host proxy and the Swarm proxy on each node run the same
 * image): what the host has, and what to do when it lacks it. boxship's own images (boxship-proxy:*, built from a
 * Dockerfile in its package, image/packaged.ts) are built here when this machine lacks them, or has them only from an
 * older Dockerfile, and shipped layer-thin; any other image is shipped when this machine has it, else the host pulls it.
 */
import type Docker from 'dockerode';
import { command } from '../hosts/command.js';
import type { Runner } from '../hosts/runner.js';
import { buildPackagedImage, DOCKERFILE_LABEL, type PackagedDockerfile, packagedDockerfile, packagedTags } from '../image/packaged.js';
import { shipSupportImage } from '../ship/ship-image.js';
import { BoxshipError, errorMessage, HostError } from '../util/errors.js';
import type { Report } from '../util/events.js';
import type { DeployContext } from './context.js';

/** An image under the proxy.image tag, here or on a host; `label` is its DOCKERFILE_LABEL ('' when it has none). */
export interface TaggedImage {
  id: string;
  label: string;
}

/**
 * How a host comes to have the proxy image: it has the right one (`none`), it gets this machine's (`ship`), one built
 * here first from boxship's Dockerfile (`build`), or it pulls it (`pull`). `stale`: the host holds an older image
 * under the tag, so a proxy container started from it is to be replaced.
 */
export function proxyImageAction(o: { own?: string; host?: TaggedImage; local?: TaggedImage }): { action: 'none' | 'ship' | 'build' | 'pull'; stale: boolean } {
  const current = (i: TaggedImage | undefined) => i !== undefined && (o.own === undefined || i.label === o.own);
  if (current(o.host)) return { action: 'none', stale: false };
  const stale = o.host !== undefined;
  if (current(o.local)) return { action: 'ship', stale };
  return { action: o.own === undefined ? 'pull' : 'build', stale };
}

/** What the host has under proxy.image (undefined: nothing). */
export async function proxyImageOnHost(ssh: Runner, image: string): Promise<TaggedImage | undefined> {
  const r = await ssh.exec(
    command('read', `check for ${image}`, 'docker', 'image', 'inspect', '--format', `{{.Id}} {{index .Config.Labels "${DOCKERFILE_LABEL}"}}`, image),
    { allowFailure: true },
  );
  if (r.code !== 0) return undefined;
  const [id = '', label = ''] = r.stdout.trim().split(/\s+/);
  return { id, label: label === '<no value>' ? '' : label };
}

async function localImage(docker: Docker, image: string): Promise<TaggedImage | undefined> {
  const info = await docker
    .getImage(image)
    .inspect()
    .catch(() => undefined);
  return info ? { id: info.Id, label: info.Config?.Labels?.[DOCKERFILE_LABEL] ?? '' } : undefined;
}

/** One build per image per engine, however many hosts set up in parallel need it. */
const builds = new WeakMap<Docker, Map<string, Promise<string>>>();

function buildOnce(docker: Docker, image: string, dockerfile: PackagedDockerfile, report: Report): Promise<string> {
  const byImage = builds.get(docker) ?? new Map<string, Promise<string>>();
  builds.set(docker, byImage);
  let build = byImage.get(image);
  if (!build) {
    report({ kind: 'step', message: `building the proxy image ${image} here from ${dockerfile.path} (once; then shipped to each host)` });
    build = buildPackagedImage(docker, image, dockerfile, report);
    // A failed build is not remembered: the next command tries again.
    build.catch(() => byImage.delete(image));
    byImage.set(image, build);
  }
  return build;
}

/**
 * Makes sure the host has the proxy image (`onHost`: what it has now, from proxyImageOnHost); true when it held an
 * older image under the tag, so that a proxy container running that one is replaced. A plan says what would be done.
 * A build that fails is an error only when there is no older image to go on with (then a warning says why).
 * `image`: proxy.image, or the edge's own (proxy.edge.image), which comes to the host the same way.
 */
export async function ensureProxyImage(
  ctx: DeployContext,
  ssh: Runner,
  docker: Docker,
  onHost: TaggedImage | undefined,
  image = ctx.config.proxy.image,
): Promise<boolean> {
  const dockerfile = packagedDockerfile(image);
  const own = dockerfile?.digest;
  const needed = proxyImageAction({ own, host: onHost });
  if (needed.action === 'none') return false;
  const older = needed.stale ? ` (the host has it from another Dockerfile than ${dockerfile?.path})` : '';
  if (ssh.dryRun) {
    // This machine's engine is not asked in a plan: whether it has the image decides only where the bytes come from.
    const how = own
      ? `build it here from ${dockerfile?.path} unless this machine has it`
      : 'ship it from here if this machine has it, else pull it on the host';
    ssh.note(`the proxy image ${image}${older}: ${how} (layer-thin, as release does)`);
    return needed.stale;
  }
  const local = await localImage(docker, image);
  const { action, stale } = proxyImageAction({ own, host: onHost, local });
  if (action === 'pull') {
    ctx.report({ kind: 'step', host: ssh.name, message: `pulling the proxy image ${image} on the host` });
    await ssh.exec(command('write', `pull ${image}`, 'docker', 'pull', image), { timeoutMs: 10 * 60_000 }).catch((err: Error) => {
      throw new HostError(ssh.name, `the proxy image ${image} is neither on the host nor here, and the host cannot pull it: ${err.message}`, {
        hint: `build or pull it here (boxship ships it), or set proxy.image to an image the host can pull; boxship builds its own images (${packagedTags()}) itself`,
      });
    });
    return stale;
  }
  let imageId = local?.id ?? '';
  if (action === 'build') {
    const built = await buildOnce(docker, image, dockerfile!, ctx.report).catch((err: unknown) => {
      // An older image (on the host, or here to ship) still serves: a machine that cannot build keeps working.
      if (!onHost && !local) throw err;
      const e = err instanceof BoxshipError ? err : new BoxshipError(errorMessage(err));
      const keep = onHost ? 'the host keeps its older image' : 'shipping the older image this machine has';
      ctx.report({ kind: 'warning', host: ssh.name, message: `${e.message}${e.hint ? ` (${e.hint})` : ''}; ${keep}` });
      return undefined;
    });
    if (built === undefined && onHost) return false;
    imageId = built ?? imageId;
  }
  ctx.report({ kind: 'step', host: ssh.name, message: `shipping the proxy image ${image}${older}` });
  await shipSupportImage({ config: ctx.config, docker, ref: image, imageId, ssh, report: ctx.report });
  return stale;
}
