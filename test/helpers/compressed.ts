/**
 * Puts a local image on a simulated host's containerd store with its layers held only gzip-compressed, as a
 * registry pull (or a classic build on the host) leaves them: content blobs whose digest is not the diffID. The
 * image's RootFS lists the layers, so a host inventory that trusted RootFS alone would leave them out.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { extract, pack } from 'tar-stream';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function savedFiles(ref: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const ex = extract();
  ex.on('entry', (h, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: unknown) => chunks.push(c as Buffer));
    stream.on('end', () => {
      if (h.type === 'file') files.set(h.name, Buffer.concat(chunks));
      next();
    });
  });
  const save = spawn('docker', ['save', ref], { stdio: ['ignore', 'pipe', 'inherit'] });
  save.stdout.pipe(ex);
  await new Promise<void>((res, rej) => ex.on('finish', res).on('error', rej));
  return files;
}

/** Loads `ref` (a local image) onto the host container as `ref`, every layer stored as tar+gzip. */
export async function loadGzipped(container: string, ref: string): Promise<void> {
  const files = await savedFiles(ref);
  const [entry] = JSON.parse(files.get('manifest.json')!.toString()) as { Config: string; Layers: string[] }[];
  const config = files.get(entry!.Config)!;
  const out = pack();
  const blobs = new Map<string, Buffer>([[sha(config), config]]);
  const layers = entry!.Layers.map((p) => {
    const gz = gzipSync(files.get(p)!, { level: 1 });
    blobs.set(sha(gz), gz);
    return { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(gz), size: gz.length };
  });
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers,
    }),
  );
  blobs.set(sha(manifest), manifest);
  const [repo, tag] = ref.split(':') as [string, string];
  const index = {
    schemaVersion: 2,
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: sha(manifest),
        size: manifest.length,
        annotations: { 'io.containerd.image.name': `docker.io/library/${repo}:${tag}`, 'org.opencontainers.image.ref.name': tag },
      },
    ],
  };
  out.entry({ name: 'oci-layout' }, JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  for (const [d, b] of blobs) out.entry({ name: `blobs/sha256/${d.slice(7)}` }, b);
  out.entry({ name: 'index.json' }, JSON.stringify(index));
  out.finalize();
  const load = spawn('docker', ['exec', '-i', container, 'docker', 'load'], { stdio: ['pipe', 'ignore', 'inherit'] });
  out.pipe(load.stdin);
  const code = await new Promise<number | null>((res) => load.on('close', res));
  if (code !== 0) throw new Error(`loading ${ref} gzipped on ${container} failed (exit ${code})`);
}

/** Content-store digests of the host's blobs whose uncompressed label names another digest (held only compressed). */
export function compressedOnly(container: string): Map<string, string> {
  const text = execFileSync('docker', ['exec', container, 'ctr', '-n', 'moby', 'content', 'ls'], { encoding: 'utf8' });
  const out = new Map<string, string>();
  for (const line of text.split('\n').slice(1)) {
    const digest = line.split(/\s+/)[0] ?? '';
    const m = /containerd\.io\/uncompressed=(sha256:[0-9a-f]{64})/.exec(line);
    if (m && m[1] !== digest) out.set(m[1]!, digest);
  }
  return out;
}
