/**
 * `build:` of boxship.yml: how the image is made on this machine. Separate from the run-time sections because it is
 * read only here (the hosts never see a Dockerfile); convert.ts checks the paths exist.
 */
import { z } from 'zod';
import { parseImageRef } from '../image-ref.js';
import { localPath, stringValue } from './fields.js';

const IMAGE_ID_RE = /^sha256:[0-9a-f]{64}$/;

export const build = z
  .strictObject({
    context: localPath().default('.').describe('Build context folder, relative to boxship.yml.'),
    dockerfile: localPath().default('Dockerfile').describe('Dockerfile path, relative to the build context.'),
    target: z.string().min(1).optional().describe('Stage of a multi-stage Dockerfile to build (docker build --target).'),
    platform: z
      .string()
      .regex(/^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/, { error: 'expected os/architecture[/variant], e.g. linux/amd64' })
      .optional()
      .describe("Platform to build for (docker build --platform), e.g. linux/amd64: the hosts' platform when this machine's differs."),
    args: z
      .record(z.string().min(1), stringValue())
      .default({})
      .describe('Build arguments (docker build --build-arg), e.g. NODE_IMAGE: node:20-bookworm-slim.'),
    include: z
      .array(localPath(), { error: 'expected a list of file paths' })
      .default([])
      .describe(
        'Files outside git that the build needs (a CA bundle, a generated asset), relative to build.context. The build ' +
          'context is the commit; these are added to it, hashed into the image labels and listed in the build output.',
      ),
    pins: z
      .record(
        z
          .string()
          .min(1)
          .superRefine((text, ctx) => {
            const result = parseImageRef(text);
            if (!result.ok) ctx.addIssue({ code: 'custom', message: result.message });
          }),
        z.string().regex(IMAGE_ID_RE, { error: 'expected a local image ID "sha256:<64 hex digits>"' }),
      )
      .default({})
      .describe(
        'Base images pinned by local image ID: image reference as written in FROM -> "sha256:<64 hex>" ' +
          '(docker image inspect --format {{.Id}} <image>). The build fails if the local image differs.',
      ),
  })
  .prefault({})
  .describe('How the image is built from a Dockerfile on this machine.');
