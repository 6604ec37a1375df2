/**
 * Sends one host its thin archive (archive.ts): tar-streamed from the spool, gzip-compressed, over SSH into a temp
 * file; then a second command verifies, loads, checks and tags it.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createGzip } from 'node:zlib';
import { type Pack, pack } from 'tar-stream';
import type { Runner } from '../hosts/runner.js';
import { HostError } from '../util/errors.js';
import type { ArchiveName, ThinArchive } from './archive.js';
import { loadAndTag, receive, removeFile, incomingDir } from './commands.js';
import { meter } from './meter.js';
import type { SpoolLayer } from './spool.js';

/** gzip level 1: most of the size win of level 6 at a fraction of the CPU, which is the bottleneck over SSH. */
export const GZIP_LEVEL = 1;

/** The repository every upload is loaded under before it is checked (see loadAndTag). */
export const INCOMING_REPOSITORY = 'boxship-incoming';

export function incomingName(service: string): ArchiveName {
  return { repository: INCOMING_REPOSITORY, tag: `${service.replace(/[^A-Za-z0-9_.-]/g, '_')}-${randomBytes(4).toString('hex')}` };
}

export interface TransferResult {
  /** Compressed bytes boxship sent. */
  bytesSent: number;
  /** Bytes the host says it received. */
  bytesReceived: number;
}

/** The archive as one tar stream, each layer file read from the spool when its turn comes. */
export function archiveStream(archive: ThinArchive, layers: readonly SpoolLayer[]): Pack {
  const tar = pack();
  void (async () => {
    for (const e of archive.entries) {
      if ('data' in e) {
        await new Promise<void>((res, rej) => tar.entry({ name: e.path, size: e.data.length, mtime: new Date(0) }, e.data, (err) => (err ? rej(err) : res())));
        continue;
      }
      const file = layers[e.layer]!.file;
      await new Promise<void>((res, rej) => {
        const sink = tar.entry({ name: e.path, size: e.size, mtime: new Date(0) }, (err) => (err ? rej(err) : res()));
        // A failed entry fails the whole pack (below); its own error event must not go unheard.
        sink.on('error', rej);
        const from = createReadStream(file);
        from.on('error', rej);
        from.pipe(sink);
      });
    }
    tar.finalize();
  })().catch((err: Error) => tar.destroy(err));
  return tar;
}

export async function sendImage(
  host: Runner,
  archive: ThinArchive,
  layers: readonly SpoolLayer[],
  opts: { stateDir: string; tag: string; name: ArchiveName; expectedId: string; onBytes?: (sent: number) => void },
): Promise<TransferResult> {
  const file = `${opts.tag.replace(/[^A-Za-z0-9_.-]/g, '_')}.${randomBytes(4).toString('hex')}.tar.gz.part`;
  const sent = meter(opts.onBytes);
  const upload = sent.stream;
  const tar = archiveStream(archive, layers);
  const gzip = createGzip({ level: GZIP_LEVEL });
  tar.on('error', (e) => gzip.destroy(e));
  gzip.on('error', (e) => upload.destroy(e));
  tar.pipe(gzip).pipe(upload);
  try {
    // No time limit: the upload reports its progress, and a slow uplink is not a hang.
    await host.exec(receive(opts.stateDir, file), { stdin: upload, timeoutMs: 0 });
  } catch (err) {
    for (const s of [tar, gzip, upload]) s.destroy();
    await host.exec(removeFile(`${incomingDir(opts.stateDir)}/${file}`), { allowFailure: true }).catch(() => {});
    throw err;
  }
  const incoming = `${opts.name.repository}:${opts.name.tag}`;
  const out = await host.run(loadAndTag(opts.stateDir, file, { bytes: sent.bytes(), sha256: sent.sha256(), imageId: opts.expectedId }, incoming, opts.tag));
  const received = Number(/bytes=(\d+)/.exec(out)?.[1]);
  if (!Number.isFinite(received)) throw new HostError(host.name, `docker load gave no byte count: ${out.slice(0, 200)}`);
  return { bytesSent: sent.bytes(), bytesReceived: received };
}
