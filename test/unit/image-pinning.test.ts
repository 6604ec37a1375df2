import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { packageInstalls } from '../../src/image/install-commands.js';
import { everyRequirementHashed } from '../../src/image/lockfiles.js';
import { checkPinning, normalizeRef, pinnableRefs, pinsFor, type PinningInput } from '../../src/image/pinning.js';
import { InputError } from '../../src/util/errors.js';

const ID_A = `sha256:${'a'.repeat(64)}`;
const ID_B = `sha256:${'b'.repeat(64)}`;
const DIGEST = `sha256:${'c'.repeat(64)}`;
const DF = 'app/Dockerfile';

/** A check over an in-memory context: `files` maps context paths to contents. */
function check(dockerfile: string, over: Partial<PinningInput> & { files?: Record<string, string> } = {}) {
  const files = over.files ?? {};
  return checkPinning({
    dockerfilePath: DF,
    dockerfileText: dockerfile,
    contextFiles: Object.keys(files),
    readContextFile: (rel) => Buffer.from(files[rel] ?? ''),
    buildArgs: {},
    pins: {},
    localImageIds: new Map(),
    ...over,
  });
}

const lines = (...l: string[]) => l.join('\n');

describe('base image pinning', () => {
  it('checks a pin against the platform it is for: FROM --platform, else build.platform', () => {
    const pinned = { pins: { node: ID_A }, localImageIds: new Map([['node', ID_A]]), localPlatforms: new Map([['node', 'linux/amd64']]) };
    const arm = check(lines('FROM debian AS x', 'FROM --platform=linux/arm64 node'), {
      ...pinned,
      pins: { ...pinned.pins, debian: ID_B },
      localImageIds: new Map([...pinned.localImageIds, ['debian', ID_B]]),
    });
    expect(arm.problems.map((p) => p.message)).toEqual([`${DF}:2: FROM node is pinned to ${ID_A}, an image for linux/amd64, but the build is for linux/arm64`]);
    expect(arm.problems[0]!.hint).toContain('docker pull --platform linux/arm64 node');
    expect(check('FROM node', { ...pinned, platform: 'linux/arm64' }).problems).toHaveLength(1);
    // The same platform (arm64 = arm64/v8) passes, and so does a build that names none.
    expect(check('FROM node', { ...pinned, platform: 'linux/amd64' }).problems).toEqual([]);
    expect(check('FROM --platform=linux/arm64/v8 node', { ...pinned, localPlatforms: new Map([['node', 'linux/arm64']]) }).problems).toEqual([]);
    expect(check('FROM node', pinned).problems).toEqual([]);
  });

  it('accepts a digest, scratch, a previous stage, and a pin that matches the local image ID', () => {
    const r = check(
      lines(
        `FROM node@${DIGEST} AS deps`, // 1
        'FROM deps AS build', //          2
        'FROM debian:bookworm-slim', //   3
        'COPY --from=build /a /a', //     4
        'FROM scratch', //                5
      ),
      { pins: { 'debian:bookworm-slim': ID_A }, localImageIds: new Map([['debian:bookworm-slim', ID_A]]) },
    );
    expect(r.problems).toEqual([]);
    expect(r.baseImages).toEqual([
      { ref: `node@${DIGEST}`, digest: DIGEST },
      { ref: 'debian:bookworm-slim', id: ID_A },
    ]);
  });

  it('refuses an unpinned FROM, naming the Dockerfile line', () => {
    const r = check(lines('FROM debian:12 AS a', 'RUN true', '', 'FROM node:20-bookworm-slim'));
    expect(r.problems.map((p) => [p.file, p.line, p.message])).toEqual([
      [DF, 1, `${DF}:1: FROM debian:12 is not pinned`],
      [DF, 4, `${DF}:4: FROM node:20-bookworm-slim is not pinned`],
    ]);
    expect(r.problems[0]!.hint).toContain('boxship pin');
  });

  it('reports a pin whose local image changed with both IDs and the pin hint', () => {
    const r = check('ARG V=12\n\nFROM debian:$V', { pins: { 'debian:12': ID_A }, localImageIds: new Map([['debian:12', ID_B]]) });
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]!.line).toBe(3);
    expect(r.problems[0]!.message).toBe(`${DF}:3: FROM debian:12 is pinned to ${ID_A}, but the local debian:12 is ${ID_B}`);
    expect(r.problems[0]!.hint).toBe('run `boxship pin` to accept the new base image');
  });

  it('reports a pinned image that is missing locally', () => {
    const r = check('FROM debian:12', { pins: { 'debian:12': ID_A } });
    expect(r.problems.map((p) => [p.line, p.message])).toEqual([[1, `${DF}:1: FROM debian:12 is pinned to ${ID_A}, but no image debian:12 exists locally`]]);
  });

  it('matches pins and local IDs across equivalent spellings of a reference', () => {
    expect(normalizeRef('debian')).toBe('docker.io/library/debian:latest');
    expect(normalizeRef('me/app:1')).toBe('docker.io/me/app:1');
    expect(normalizeRef('localhost:5000/app')).toBe('localhost:5000/app:latest');
    const r = check('FROM docker.io/library/debian:latest', { pins: { debian: ID_A }, localImageIds: new Map([['debian:latest', ID_A]]) });
    expect(r.problems).toEqual([]);
  });

  it('uses build args for FROM and checks only the stages the target needs', () => {
    const text = lines('ARG BASE=debian:12', 'FROM $BASE AS runtime', 'FROM node:20 AS unused', 'FROM runtime AS final');
    const ids = new Map([['debian:13', ID_A]]);
    const r = check(text, { buildArgs: { BASE: 'debian:13' }, target: 'final', pins: { 'debian:13': ID_A }, localImageIds: ids });
    expect(r.problems).toEqual([]);
    // Without a target every stage is checked.
    expect(check(text, { buildArgs: { BASE: 'debian:13' }, pins: { 'debian:13': ID_A }, localImageIds: ids }).problems.map((p) => p.line)).toEqual([3]);
  });

  it('checks images pulled in by COPY --from and RUN --mount', () => {
    const r = check(lines(`FROM a@${DIGEST}`, 'COPY --from=nginx:1 /x /x', 'RUN --mount=from=busybox,target=/b true'));
    expect(r.problems.map((p) => p.message)).toEqual([`${DF}:2: COPY --from=nginx:1 is not pinned`, `${DF}:3: RUN --mount=busybox is not pinned`]);
  });

  it('reports an unknown target, a malformed digest, an empty image and a Dockerfile without FROM', () => {
    expect(check('FROM scratch AS a', { target: 'b' }).problems[0]!.message).toBe(`${DF}:1: build target "b" is not a stage of this Dockerfile`);
    expect(check('FROM x@sha256:123').problems[0]!.message).toContain('malformed digest');
    expect(check('\nFROM $NOPE').problems[0]!.message).toBe(`${DF}:2: FROM $NOPE expands to an empty image name`);
    expect(check('# nothing').problems[0]!.message).toBe(`${DF}:1: no FROM instruction`);
  });
});

describe('lockfile rules', () => {
  const base = `FROM node@${DIGEST}`;
  const node = { 'package.json': '{}', 'package-lock.json': '{"lockfileVersion":3}' };

  it('accepts npm ci with package-lock.json and records the lockfile hash', () => {
    const r = check(lines(base, 'COPY package*.json ./', 'RUN npm ci --omit=dev'), { files: node });
    expect(r.problems).toEqual([]);
    expect(r.lockfiles).toEqual([{ path: 'package-lock.json', sha256: createHash('sha256').update(node['package-lock.json']).digest('hex') }]);
  });

  it('accepts npm-shrinkwrap.json, yarn --frozen-lockfile / --immutable and pnpm --frozen-lockfile', () => {
    expect(check(lines(base, 'RUN npm ci'), { files: { 'package.json': '', 'npm-shrinkwrap.json': '' } }).problems).toEqual([]);
    expect(check(lines(base, 'RUN yarn install --frozen-lockfile'), { files: { 'package.json': '', 'yarn.lock': '' } }).problems).toEqual([]);
    expect(check(lines(base, 'RUN corepack enable && yarn --immutable'), { files: { 'package.json': '', 'yarn.lock': '' } }).problems).toEqual([]);
    expect(check(lines(base, 'RUN pnpm install --frozen-lockfile --prod'), { files: { 'package.json': '', 'pnpm-lock.yaml': '' } }).problems).toEqual([]);
  });

  it('refuses npm install even with a lockfile, at its line', () => {
    const r = check(lines(base, 'WORKDIR /app', 'RUN npm install --omit=dev'), { files: node });
    expect(r.problems.map((p) => p.message)).toEqual([`${DF}:3: RUN npm install --omit=dev installs without the lockfile`]);
    expect(r.problems[0]!.hint).toContain('npm ci');
  });

  it('refuses package.json without a lockfile', () => {
    const r = check(lines(base, 'COPY . .', 'RUN npm ci'), { files: { 'package.json': '{}' } });
    expect(r.problems.map((p) => [p.line, p.message])).toEqual([
      [3, `${DF}:3: package.json is in the build context but no lockfile is (package-lock.json, npm-shrinkwrap.json, yarn.lock or pnpm-lock.yaml)`],
    ]);
  });

  it('refuses a lockfile no RUN installs from, anchored at the last used stage', () => {
    const r = check(lines(base, 'COPY . .', `FROM node@${DIGEST}`, 'COPY . .'), { files: node });
    expect(r.problems.map((p) => [p.line, p.message])).toEqual([[3, `${DF}:3: package-lock.json is in the build context but no RUN installs from it`]]);
    // yarn --frozen-lockfile does not install from package-lock.json
    expect(check(lines(base, 'COPY . .', 'RUN yarn --frozen-lockfile'), { files: node }).problems).toHaveLength(1);
  });

  it('only counts RUN lines in stages the target uses', () => {
    const text = lines(`FROM node@${DIGEST} AS other`, 'RUN npm ci', `FROM node@${DIGEST} AS app`, 'RUN npm install');
    const r = check(text, { files: node, target: 'app' });
    expect(r.problems.map((p) => p.line)).toEqual([4]);
    expect(
      check(lines(`FROM node@${DIGEST} AS other`, 'RUN npm install', `FROM node@${DIGEST} AS app`, 'RUN npm ci'), { files: node, target: 'app' }).problems,
    ).toEqual([]);
  });

  it('refuses unlocked yarn and pnpm installs and yarn add', () => {
    const files = { 'package.json': '', 'yarn.lock': '', 'pnpm-lock.yaml': '' };
    const r = check(lines(base, 'RUN yarn install', 'RUN pnpm i', 'RUN yarn add left-pad'), { files });
    expect(r.problems.map((p) => p.line)).toEqual([2, 3, 4]);
  });

  it('allows a global npm install when every package has an exact version', () => {
    expect(check(lines(base, 'RUN npm install -g npm@10.8.2 @scope/tool@1.2.3')).problems).toEqual([]);
    expect(check(lines(base, 'RUN npm i -g pm2')).problems.map((p) => p.line)).toEqual([2]);
  });

  it('requires --require-hashes or hashed requirements for pip install -r', () => {
    const py = `FROM python@${DIGEST}`;
    const plain = { 'requirements.txt': 'flask==3.0.0\n' };
    const hashed = { 'requirements.txt': '# pinned\nflask==3.0.0 \\\n    --hash=sha256:abc\n--index-url https://x\nitsdangerous==2.2.0 --hash=sha256:def\n' };
    expect(check(lines(py, 'RUN pip install --require-hashes -r requirements.txt'), { files: plain }).problems).toEqual([]);
    expect(check(lines(py, 'COPY requirements.txt /app/', 'RUN python3 -m pip install -r /app/requirements.txt'), { files: hashed }).problems).toEqual([]);
    const r = check(lines(py, 'COPY requirements.txt .', 'RUN pip3 install --no-cache-dir -r requirements.txt'), { files: plain });
    expect(r.problems.map((p) => p.message)).toEqual([
      `${DF}:3: RUN pip3 install --no-cache-dir -r requirements.txt installs requirements.txt without --require-hashes, and not every requirement in requirements.txt carries --hash=`,
    ]);
    expect(r.lockfiles.map((l) => l.path)).toEqual(['requirements.txt']);
  });

  describe("a Node lockfile that is not the app's", () => {
    const py = `FROM python@${DIGEST}`;
    // boxship installed with `npm i -D boxship` into a package.json of its own, beside a Python app
    const beside = { ...node, 'requirements.txt': 'flask==3.0.0 --hash=sha256:abc\n', 'app.py': '' };
    const pip = 'RUN pip install --require-hashes -r requirements.txt';

    it('is not refused when the Dockerfile never copies it', () => {
      expect(check(lines(py, 'COPY requirements.txt app.py ./', pip), { files: beside }).problems).toEqual([]);
      expect(check(lines(base, 'COPY server.js ./', 'CMD ["node", "server.js"]'), { files: { ...node, 'server.js': '' } }).problems).toEqual([]);
    });

    it('is not refused when COPY . . brings it into an image without Node (no npm, yarn, pnpm or node anywhere)', () => {
      const r = check(lines(py, 'WORKDIR /app', 'COPY . .', pip, 'CMD ["python", "app.py"]'), { files: beside });
      expect(r.problems).toEqual([]);
      // still recorded in the labels: it is in the context
      expect(r.lockfiles.map((l) => l.path)).toEqual(['package-lock.json', 'requirements.txt']);
      expect(check(lines(py, 'COPY . .', pip), { files: { 'package.json': '{}', 'requirements.txt': beside['requirements.txt'] } }).problems).toEqual([]);
    });

    it('is still refused when the image has Node: a Node base, or node or npm in a RUN, CMD or ENTRYPOINT', () => {
      const msg = `${DF}:1: package-lock.json is in the build context but no RUN installs from it`; // at the last used FROM
      expect(check(lines(base, 'COPY . .'), { files: node }).problems.map((p) => p.message)).toEqual([msg]);
      expect(check(lines(py, 'COPY . .', 'CMD ["node", "server.js"]'), { files: node }).problems.map((p) => p.message)).toEqual([msg]);
      expect(check(lines(py, 'COPY . .', 'ENTRYPOINT ["/usr/bin/node"]'), { files: node }).problems).toHaveLength(1);
      expect(check(lines(py, 'RUN apt-get install -y nodejs', 'COPY . .'), { files: node }).problems).toHaveLength(1);
      expect(check(lines(`FROM cimg/node:20.1@${DIGEST}`, 'COPY package*.json ./'), { files: node }).problems).toHaveLength(1);
      // a base named through an ARG counts as it expands
      expect(check(lines('ARG BASE', 'FROM $BASE', 'COPY . .'), { files: node, buildArgs: { BASE: `node@${DIGEST}` } }).problems).toHaveLength(1);
    });

    it('is still refused, at its line, when COPY . . is followed by npm install without ci', () => {
      const r = check(lines(base, 'WORKDIR /app', 'COPY . .', 'RUN npm install'), { files: node });
      expect(r.problems.map((p) => p.message)).toEqual([`${DF}:4: RUN npm install installs without the lockfile`]);
      expect(check(lines(py, 'COPY . .', 'RUN npm install'), { files: beside }).problems.map((p) => p.line)).toEqual([3]);
    });

    it('counts a copy of a folder holding it, or a pattern matching it, but not one from another stage', () => {
      expect(check(lines(base, 'COPY ./ /app/'), { files: node }).problems).toHaveLength(1);
      expect(check(lines(base, 'COPY *.json ./'), { files: node }).problems).toHaveLength(1);
      expect(check(lines(base, 'ADD . /srv'), { files: node }).problems).toHaveLength(1);
      expect(check(lines(`FROM node@${DIGEST} AS b`, `FROM node@${DIGEST}`, 'COPY --from=b /app .'), { files: node }).problems).toEqual([]);
    });
  });

  it('does not require a Node lockfile when there is no package.json', () => {
    expect(check(lines(base, 'RUN apt-get install -y curl'), { files: { 'main.go': '', 'go.sum': 'x' } }).problems).toEqual([]);
  });

  it('takes the context as an exists function too', () => {
    const r = check(lines(base, 'RUN npm ci'), { contextFiles: (rel) => rel in node, readContextFile: (rel) => Buffer.from(node[rel as keyof typeof node]) });
    expect(r.problems).toEqual([]);
    expect(r.lockfiles.map((l) => l.path)).toEqual(['package-lock.json']);
  });
});

describe('packageInstalls', () => {
  it.each([
    ['npm ci', 'npm', true],
    ['npm --prefix /app ci', 'npm', true],
    ['cd /app && npm clean-install', 'npm', true],
    ['sh -c "npm install"', 'npm', false],
    ['/usr/local/bin/npm i express', 'npm', false],
    ['yarn', 'yarn', false],
    ['yarn --frozen-lockfile', 'yarn', true],
    ['pnpm install --frozen-lockfile', 'pnpm', true],
  ])('%s', (command, tool, locked) => {
    expect(packageInstalls(command)).toMatchObject([{ tool, usesLockfile: locked }]);
  });

  it('ignores commands that do not install', () => {
    expect(packageInstalls('npm run build && npm test && yarn build && pnpm run x && pip --version')).toEqual([]);
  });

  it('finds pip requirement files in every spelling', () => {
    expect(packageInstalls('pip install -r a.txt --requirement b.txt --requirement=c.txt -rd.txt')[0]!.requirementFiles).toEqual([
      'a.txt',
      'b.txt',
      'c.txt',
      'd.txt',
    ]);
  });

  it('everyRequirementHashed', () => {
    expect(everyRequirementHashed('a==1 --hash=sha256:x\n')).toBe(true);
    expect(everyRequirementHashed('a==1 --hash=sha256:x\nb==2\n')).toBe(false);
    expect(everyRequirementHashed('# only comments\n')).toBe(false);
  });
});

describe('pinsFor', () => {
  const text = lines('ARG V=12', 'FROM debian:$V AS a', `FROM node@${DIGEST}`, 'COPY --from=a / /', 'COPY --from=nginx:1 / /', 'FROM scratch');

  it('pins every image by tag, not stages, scratch or digests', () => {
    expect(pinnableRefs(text, {})).toEqual(['debian:12', 'nginx:1']);
    const ids = new Map([
      ['debian:12', ID_A],
      ['nginx:1', ID_B],
    ]);
    expect(pinsFor(text, {}, ids)).toEqual({ 'debian:12': ID_A, 'nginx:1': ID_B });
    expect(pinsFor(text, { V: '13' }, new Map([...ids, ['debian:13', ID_B]]))).toEqual({ 'debian:13': ID_B, 'nginx:1': ID_B });
  });

  it('refuses to pin an image that is not present locally', () => {
    expect(() => pinsFor(text, {}, new Map([['debian:12', ID_A]]))).toThrow(InputError);
    expect(() => pinsFor(text, {}, new Map())).toThrow('cannot pin debian:12, nginx:1');
  });

  it('writes pins that the check then accepts', () => {
    const ids = new Map([
      ['debian:12', ID_A],
      ['nginx:1', ID_B],
    ]);
    expect(check(text, { pins: pinsFor(text, {}, ids), localImageIds: ids }).problems).toEqual([]);
  });
});
