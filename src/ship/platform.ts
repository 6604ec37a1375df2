/**
 * An image runs only on the platform it was built for: an arm64 image built on an ARM laptop starts on an amd64
 * server as "exec format error". Each host's engine platform is read with its inventory, and a mismatched image is
 * refused for that host before a byte is sent (pure).
 */
import { HostError } from '../util/errors.js';

export interface ImagePlatform {
  os: string;
  architecture: string;
  variant?: string;
}

function platformString(p: ImagePlatform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** Throws (exit 2: the user must rebuild) when the image's os/architecture differs from the host's `os/arch`. */
export function checkPlatform(host: string, ref: string, image: ImagePlatform, hostPlatform: string): void {
  const [os = '', arch = ''] = hostPlatform.split('/');
  if (!os || !arch) return; // an engine that does not say; its load or start will tell
  if (image.os === os && image.architecture === arch) return;
  throw new HostError(host, `image ${ref} is built for ${platformString(image)} but the host runs ${os}/${arch}; nothing was sent`, {
    exitCode: 2,
    hint: `build for the hosts' platform: set \`build.platform: ${os}/${arch}\` in boxship.yml (passed to the BuildKit build)`,
  });
}
