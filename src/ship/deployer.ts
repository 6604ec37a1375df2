/**
 * The deployer's side of shipping an image: the image in the local engine (its layers, its platform, its
 * `docker save`) as an ImageSource, and a layer cache this run can write. Its own module so ship-image.ts is the
 * orchestration alone, and a unit test hands shipImageFrom a stand-in ImageSource instead of an engine.
 */
import { constants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { errorMessage } from '../util/errors.js';
import type { Report } from '../util/events.js';
import { LayerCache } from './cache.js';
import type { ImagePlatform } from './platform.js';
import type { SaveSource } from './save-stream.js';

/** The image on the deployer: its layers and platform (`docker image inspect`) and its `docker save`. */
export interface ImageSource extends SaveSource {
  inspect(imageId: string): Promise<{ diffIds: string[]; platform: ImagePlatform }>;
}

/** The local engine as an ImageSource. */
export function engineImages(docker: Docker): ImageSource {
  return {
    async inspect(imageId) {
      const inspected = (await docker.getImage(imageId).inspect()) as { RootFS?: { Layers?: string[] }; Os?: string; Architecture?: string; Variant?: string };
      return {
        diffIds: inspected.RootFS?.Layers ?? [],
        platform: {
          os: inspected.Os || 'linux',
          architecture: inspected.Architecture || 'amd64',
          ...(inspected.Variant ? { variant: inspected.Variant } : {}),
        },
      };
    },
    save: (imageId) => docker.getImage(imageId).get() as unknown as Promise<Readable>,
  };
}

/** The layer cache, or, where it cannot be written (a read-only home), one in the temp dir for this run. */
export async function usableCache(report: Report): Promise<LayerCache> {
  const cache = new LayerCache();
  try {
    await mkdir(cache.dir, { recursive: true });
    await access(cache.dir, constants.W_OK);
    return cache;
  } catch (err) {
    const fallback = new LayerCache(join(tmpdir(), `boxship-layers-${process.getuid?.() ?? 'user'}`));
    report({
      kind: 'warning',
      message: `cannot use the layer cache ${cache.dir} (${errorMessage(err)}): using ${fallback.dir}; set BOXSHIP_CACHE_DIR to a writable folder to keep compressed layers between releases`,
    });
    return fallback;
  }
}
