/**
 * Sends one host the layers it lacks: a tar of the spool with the present layers left out, gzip-compressed,
 * streamed over SSH into a temp file; then a second command verifies, loads and tags it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { relative } from 'node:path';
import { Transform } from 'node:stream';
import { createGzip } from 'node:zlib';
import { pack } from 'tar-fs';
import type { Runner } from '../hosts/runner.js';
import { HostError } from '../util/errors.js';
import { loadAndTag, receive, removeFile, incomingDir } from './commands.js';
import type { TrimPlan } from './layers.js';
import type { SavedImage } from './spool.js';

/** gzip level 1: most of the size win of level 6 at a fraction of the CPU, which is the bottleneck over SSH. */
export const GZIP_LEVEL = 1;

export interface TransferResult {
  /** Compressed bytes boxship sent. */
  bytesSent: number;
  /** Bytes the host says it received. */
  bytesReceived: number;
  layersSent: number;
  layersSkipped: number;
}

export async function sendImage(
  host: Runner,
  saved: SavedImage,
  plan: TrimPlan,
  opts: { stateDir: string; tag: string; onBytes?: (sent: number) => void },
): Promise<TransferResult> {
  const file = `${opts.tag.replace(/[^A-Za-z0-9_.-]/g, '_')}.${randomBytes(4).toString('hex')}.tar.gz.part`;
  const hash = createHash('sha256');
  let sent = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      sent += chunk.length;
      opts.onBytes?.(sent);
      done(null, chunk);
    },
  });
  const tar = pack(saved.dir, { ignore: (name) => plan.omit.has(relative(saved.dir, name)) });
  const gzip = createGzip({ level: GZIP_LEVEL });
  tar.on('error', (e) => gzip.destroy(e));
  gzip.on('error', (e) => meter.destroy(e));
  tar.pipe(gzip).pipe(meter);
  try {
    // No time limit: the upload reports its progress, and a slow uplink is not a hang.
    await host.exec(receive(opts.stateDir, file), { stdin: meter, timeoutMs: 0 });
  } catch (err) {
    for (const s of [tar, gzip, meter]) s.destroy();
    await host.exec(removeFile(`${incomingDir(opts.stateDir)}/${file}`), { allowFailure: true }).catch(() => {});
    throw err;
  }
  const out = await host.run(loadAndTag(opts.stateDir, file, { bytes: sent, sha256: hash.digest('hex'), imageId: saved.imageId }, opts.tag));
  const received = Number(/bytes=(\d+)/.exec(out)?.[1]);
  if (!Number.isFinite(received)) throw new HostError(host.name, `docker load gave no byte count: ${out.slice(0, 200)}`);
  return { bytesSent: sent, bytesReceived: received, layersSent: plan.missing.length, layersSkipped: plan.present.length };
}
