/**
 * What goes on the wire to a host (pure): its thin archives (archive.ts) as a tar stream cut into pieces, each piece
 * either small bytes of this host's own (tar headers, config, manifests: compressed for it, cheap) or a layer's body
 * compressed once for every host (the cache entry, reused as is). Concatenated, the pieces are one valid compressed
 * tar stream of the codec.
 *
 * A host that lacks much gets its layers in several parts, each a complete archive of its own: part k is the image
 * cut after its top layer (a prefix image: the config lists only those layers), part N the image itself. The host
 * verifies and loads part k while part k+1 is still on the wire, so loading overlaps the transfer; a classic store
 * then skips the layers it has by chain ID, a containerd store finds their blobs by diffID, and only the final image
 * is ever tagged. A code-only change is one part.
 */
import type { ArchiveImage, ArchiveName, ThinArchive } from './archive.js';
import { thinArchive } from './archive.js';

/** A layer body in a part: `layer` indexes ArchiveImage.layers. */
export type Piece = { data: Buffer } | { layer: number };

/** Parts start a new load once the layers sent so far reach this many uncompressed bytes. */
const PART_BYTES = 32 << 20;

/** The 512-byte ustar header of a regular file (mtime 0, root, 0644); sizes above 8 GiB in base-256. */
export function tarHeader(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  if (Buffer.byteLength(name) > 100) throw new Error(`tar entry name too long: ${name}`);
  h.write(name, 0, 100, 'utf8');
  const octal = (value: number, at: number, len: number) => h.write(`${value.toString(8).padStart(len - 1, '0')}\0`, at, len, 'ascii');
  octal(0o644, 100, 8);
  octal(0, 108, 8);
  octal(0, 116, 8);
  if (size < 8 ** 11) octal(size, 124, 12);
  else {
    h[124] = 0x80;
    let v = BigInt(size);
    for (let i = 135; i > 124; i--) {
      h[i] = Number(v & 0xffn);
      v >>= 8n;
    }
  }
  octal(0, 136, 12);
  h.write('        ', 148, 8, 'ascii');
  h.write('0', 156, 1, 'ascii');
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return h;
}

const pad = (size: number) => Buffer.alloc((512 - (size % 512)) % 512);

/** The archive as pieces: adjacent bytes merged, each layer body a piece of its own. */
export function archivePieces(archive: ThinArchive): Piece[] {
  const out: Piece[] = [];
  let bytes: Buffer[] = [];
  const flush = () => {
    if (bytes.length) out.push({ data: Buffer.concat(bytes) });
    bytes = [];
  };
  for (const e of archive.entries) {
    if ('data' in e) {
      bytes.push(tarHeader(e.path, e.data.length), e.data, pad(e.data.length));
    } else {
      bytes.push(tarHeader(e.path, e.size));
      flush();
      out.push({ layer: e.layer });
      bytes.push(pad(e.size));
    }
  }
  bytes.push(Buffer.alloc(1024));
  flush();
  return out;
}

/**
 * A synthetic config for the image cut after a layer: the platform and only those layers. Loads like any image;
 * removed again once the final image is in.
 */
export function prefixConfig(platform: { os: string; architecture: string; variant?: string }, diffIds: readonly string[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      config: {},
      rootfs: { type: 'layers', diff_ids: diffIds },
    }),
  );
}

/**
 * Whether a part ends after this layer: once the layers gathered reach PART_BYTES, unless it is the last one the
 * host lacks (that one goes with the config, in the final part).
 */
export function endsPart(gatheredBytes: number, isLast: boolean, partBytes = PART_BYTES): boolean {
  return !isLast && gatheredBytes >= partBytes;
}

/** The archive of one part: the image cut after `top` (prefix) or whole (final), carrying `layers`. */
export function partArchive(
  image: ArchiveImage,
  layers: number[],
  name: ArchiveName,
  part: { final: true } | { final: false; index: number; platform: { os: string; architecture: string; variant?: string } },
): { name: ArchiveName; archive: ThinArchive } {
  if (part.final) return { name, archive: thinArchive(image, layers, name) };
  const top = Math.max(...layers);
  const kept = image.layers.slice(0, top + 1);
  const partName = { repository: name.repository, tag: `${name.tag}-p${part.index}` };
  const prefix: ArchiveImage = {
    config: prefixConfig(
      part.platform,
      kept.map((l) => l.diffId),
    ),
    layers: kept,
  };
  return { name: partName, archive: thinArchive(prefix, layers, partName) };
}
