/**
 * `boxship init` over compose files in the shapes public samples use (written here, not copied): the app from the
 * service that builds, accessories from the ones that run an image, secrets kept out of boxship.yml, and what has no
 * place in boxship.yml named in comments. Each written file is loaded by the real loader.
 */
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/problems.js';
import { parseCompose, readCompose } from '../../src/init/compose.js';
import { commandWords, containerPort, envEntries, interpolate, looksSecret, volumeMount } from '../../src/init/compose-fields.js';
import { detectApp } from '../../src/init/detect.js';
import { renderConfig } from '../../src/init/render.js';
import { secretLines } from '../../src/init/render-compose.js';
import { writeInit } from '../../src/init/write.js';

/** A folder with these files; then init as the CLI runs it (no pins), hosts filled in, loaded by the real loader. */
function initIn(files: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'boxship-init-compose-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  const compose = readCompose(dir);
  const facts = detectApp(dir, '.env.secrets', compose?.app);
  const text = renderConfig(facts, { hosts: ['deploy@10.0.0.5'], ...(compose ? { compose } : {}) });
  const written = writeInit(dir, join(dir, 'boxship.yml'), text, '.env.secrets', secretLines(compose, '.env.secrets'));
  return { dir, text, written, config: loadConfig(join(dir, 'boxship.yml')), read: (f: string) => readFileSync(join(dir, f), 'utf8') };
}

const lines = (...l: string[]) => `${l.join('\n')}\n`;

describe('init from compose: public sample shapes', () => {
  it('Django + postgres + redis: ports, env list form, secrets apart, bind mounts and command as comments', () => {
    const { text, config, read, written, dir } = initIn({
      Dockerfile: 'FROM python:3.12-slim\nCOPY . /code\nCMD ["gunicorn", "app.wsgi"]\n',
      'compose.yaml': lines(
        'services:',
        '  web:',
        '    build: .',
        '    command: python manage.py runserver 0.0.0.0:8000',
        '    volumes:',
        '      - .:/code',
        '    ports:',
        '      - "8000:8000"',
        '    environment:',
        '      - POSTGRES_NAME=postgres',
        '      - POSTGRES_USER=postgres',
        '      - POSTGRES_PASSWORD=pg-pass-1',
        '      - DJANGO_SECRET_KEY=dj-secret-2',
        '      - REDIS_URL=redis://redis:6379/0',
        '    depends_on:',
        '      - db',
        '      - redis',
        '  db:',
        '    image: postgres:16',
        '    volumes:',
        '      - ./data/db:/var/lib/postgresql/data',
        '    environment:',
        '      - POSTGRES_DB=postgres',
        '      - POSTGRES_PASSWORD=pg-pass-1',
        '  redis:',
        '    image: redis:7-alpine',
      ),
    });
    expect(config.app.port).toBe(8000);
    expect(config.app.env).toEqual({ POSTGRES_NAME: 'postgres', POSTGRES_USER: 'postgres', REDIS_URL: 'redis://redis:6379/0' });
    expect(config.app.secretsFile).toBe(join(dir, '.env.secrets'));
    expect(text).not.toContain('pg-pass-1');
    expect(text).not.toContain('dj-secret-2');
    expect(read('.env.secrets')).toMatch(/\nPOSTGRES_PASSWORD=pg-pass-1\nDJANGO_SECRET_KEY=dj-secret-2\n$/);
    expect(statSync(join(dir, '.env.secrets')).mode & 0o777).toBe(0o600);
    expect(read('.env.db')).toContain('\nPOSTGRES_PASSWORD=pg-pass-1\n');
    expect(read('.gitignore')).toMatch(/^\.env\.secrets$/m);
    expect(read('.gitignore')).toMatch(/^\.env\.db$/m);
    expect(written.secretFiles).toEqual({ created: ['.env.secrets', '.env.db'], kept: [] });
    const accessories = Object.fromEntries((config.accessories ?? []).map((a) => [a.name, a]));
    expect(Object.keys(accessories)).toEqual(['db', 'redis']);
    expect(accessories.db).toMatchObject({ image: 'postgres:16', port: 5432, env: { POSTGRES_DB: 'postgres' }, secretsFile: join(dir, '.env.db') });
    expect(accessories.redis).toMatchObject({ image: 'redis:7-alpine', port: 6379 });
    expect(text).toMatch(/^# {3}services\.web\.command: boxship runs the image CMD/m);
    expect(text).toMatch(/^# {3}services\.web\.volumes: \.:\/code: a bind mount/m);
    expect(text).toMatch(/^# {3}services\.web\.depends_on: boxship starts every accessory/m);
    expect(text).toMatch(/^ {4}# services\.db\.volumes: \.\/data\/db:\/var\/lib\/postgresql\/data: a bind mount/m);
  });

  it('Flask: env map form, ${VAR} from .env, a CMD-SHELL curl health check, multi-stage target, stop_signal, networks', () => {
    const { text, config, read } = initIn({
      Dockerfile: lines(
        'FROM python:3.12 AS build',
        'RUN pip wheel .',
        'FROM python:3.12-slim AS prod',
        'EXPOSE 9999',
        'FROM prod AS dev',
        'CMD ["flask", "run"]',
      ),
      '.env': 'SECRET_KEY="from-dotenv"\nLOG_LEVEL=info\n',
      'docker-compose.yml': lines(
        'services:',
        '  web:',
        '    build:',
        '      context: .',
        '      target: prod',
        '    expose: ["5000"]',
        '    environment:',
        '      FLASK_ENV: production',
        '      LOG_LEVEL: ${LOG_LEVEL:-debug}',
        '      SECRET_KEY: ${SECRET_KEY}',
        '      API_TOKEN:',
        '      DEBUG: 0',
        '      UNSET: ${NOWHERE}',
        '    healthcheck:',
        '      test: ["CMD-SHELL", "curl -f http://localhost:5000/healthz || exit 1"]',
        '      interval: 30s',
        '    stop_signal: SIGINT',
        '    networks: [front]',
        '  redis:',
        '    image: "redis:alpine"',
        '    command: redis-server --appendonly yes',
        '    volumes:',
        '      - redis-data:/data',
        'networks:',
        '  front: {}',
        'volumes:',
        '  redis-data:',
      ),
    });
    expect(config.build.target).toBe('prod');
    expect(text).toMatch(/^ {2}target: prod +# the stage docker-compose\.yml builds \(services\.web\.build\.target\)$/m);
    expect(config.app.port).toBe(5000);
    expect(config.app.env).toEqual({ FLASK_ENV: 'production', LOG_LEVEL: 'info', DEBUG: '0' });
    expect(config.healthcheck.path).toBe('/healthz');
    expect(text).toMatch(/^ {2}stop_signal: SIGINT +# from compose$/m);
    expect(read('.env.secrets')).toContain('\nSECRET_KEY=from-dotenv\n# API_TOKEN=   (compose takes it from elsewhere: fill it in)\n');
    expect(text).toMatch(/^# {3}services\.web\.environment\.API_TOKEN: compose takes it from the shell: fill it in the secrets file$/m);
    expect(text).toMatch(/^# {3}services\.web\.environment\.UNSET: compose takes it from \$\{NOWHERE\}: set it under env:$/m);
    expect(text).toMatch(/^# {3}services\.web\.networks: boxship puts the app/m);
    expect(text).toMatch(/^# {3}networks \(top level\): not mapped$/m);
    const redis = config.accessories?.find((a) => a.name === 'redis');
    expect(redis).toMatchObject({ image: 'redis:alpine', port: 6379, cmd: ['redis-server', '--appendonly', 'yes'] });
    expect(redis?.volumes.map((v) => [v.name, v.path])).toEqual([['redis-data', '/data']]);
  });

  it('Rails + sidekiq: the service with ports is the app, the other builder of the same image is a role; a URL with a password is a secret', () => {
    const { text, config, read } = initIn({
      Dockerfile: 'FROM ruby:3.3\nCOPY . /rails\nEXPOSE 3000\n',
      'compose.yml': lines(
        'services:',
        '  db:',
        '    image: postgres:15',
        '    environment: { POSTGRES_PASSWORD: password }',
        '    volumes: ["pg_data:/var/lib/postgresql/data"]',
        '  redis_cache:',
        '    image: redis',
        '  sidekiq:',
        '    build: .',
        '    command: bundle exec sidekiq',
        '    depends_on: [db, redis_cache]',
        '  web:',
        '    build: .',
        `    command: bash -c "rm -f tmp/pids/server.pid && bundle exec rails s -p 3000 -b '0.0.0.0'"`,
        '    ports: ["3000:3000"]',
        '    environment:',
        '      DATABASE_URL: postgres://postgres:password@db:5432/app_development',
        '      RAILS_MASTER_KEY:',
        '      SECRET_KEY_BASE: skb-123',
        '      RAILS_ENV: production',
        'volumes:',
        '  pg_data: {}',
      ),
    });
    expect(text).toContain('# From compose.yml: services.web is the app');
    // sidekiq: the app's image with its own command, a worker beside web.
    expect(config.roles).toEqual([
      expect.objectContaining({ name: 'sidekiq', cmd: ['bundle', 'exec', 'sidekiq'], env: {}, instances: 1, health: { kind: 'running', seconds: 5 } }),
    ]);
    expect(text).toMatch(/^ {2}sidekiq: +# services\.sidekiq\n {4}cmd: \[bundle, exec, sidekiq\]$/m);
    expect(text).toMatch(/^ {4}# services\.sidekiq\.depends_on: db, redis_cache: /m);
    expect(text).not.toContain('also builds');
    expect(config.app).toMatchObject({ port: 3000, env: { RAILS_ENV: 'production' } });
    expect(text).not.toContain('postgres://postgres:password@');
    expect(read('.env.secrets')).toContain('DATABASE_URL=postgres://postgres:password@db:5432/app_development\n');
    expect(read('.env.secrets')).toContain('SECRET_KEY_BASE=skb-123\n');
    const names = (config.accessories ?? []).map((a) => a.name);
    expect(names).toEqual(['db', 'redis-cache']);
    expect(text).toMatch(/# services\.redis_cache: named redis-cache here .*the app reaches it as redis-cache/);
    expect(config.accessories?.[0]?.volumes.map((v) => v.name)).toEqual(['pg_data']);
  });

  it('Django + celery worker and beat: builders of the same image become roles with their command, env, health, replicas; another image stays a note', () => {
    const { text, config, read } = initIn({
      Dockerfile: 'FROM python:3.12-slim\nCOPY . /code\nEXPOSE 8000\n',
      'frontend/Dockerfile': 'FROM node:20\n',
      'compose.yaml': lines(
        'x-build: &build',
        '  context: .',
        '  dockerfile: Dockerfile',
        'services:',
        '  web:',
        '    build: *build',
        '    ports: ["8000:8000"]',
        '    environment: { DJANGO_SETTINGS_MODULE: app.settings, CELERY_BROKER_URL: "redis://redis:6379/0" }',
        '    volumes: [media:/code/media]',
        '  worker:',
        '    build: { context: ./, dockerfile: Dockerfile }',
        '    command: celery -A app worker -l info',
        '    environment: { DJANGO_SETTINGS_MODULE: app.settings, CELERY_BROKER_URL: "redis://redis:6379/0", WORKER_CONCURRENCY: "4", SENTRY_DSN_TOKEN: abc123 }',
        '    stop_signal: SIGQUIT',
        '    healthcheck: { test: ["CMD-SHELL", "celery -A app inspect ping -d celery@$$HOSTNAME"], interval: 30s }',
        '    deploy: { replicas: 2, resources: { limits: { memory: 512M } } }',
        '    volumes: [media:/code/media, scratch:/tmp/scratch]',
        '    depends_on: [redis]',
        '  celery_beat:',
        '    build: *build',
        '    command: ["celery", "-A", "app", "beat"]',
        '    healthcheck: { test: ["CMD", "test", "-f", "/tmp/beat.pid"] }',
        '  frontend:',
        '    build: ./frontend',
        '    command: npm run dev',
        '  redis:',
        '    image: redis:7',
        'volumes: { media: {}, scratch: {} }',
      ),
    });
    expect(config.roles?.map((r) => [r.name, r.cmd, r.env, r.instances, r.stopSignal, r.health])).toEqual([
      [
        'worker',
        ['celery', '-A', 'app', 'worker', '-l', 'info'],
        { WORKER_CONCURRENCY: '4' },
        2,
        'SIGQUIT',
        { kind: 'cmd', cmd: ['sh', '-c', 'celery -A app inspect ping -d celery@$HOSTNAME'] },
      ],
      ['celery-beat', ['celery', '-A', 'app', 'beat'], {}, 1, undefined, { kind: 'cmd', cmd: ['test', '-f', '/tmp/beat.pid'] }],
    ]);
    // The worker's secret goes to the app's secrets file, which every role reads; never into boxship.yml.
    expect(text).not.toContain('abc123');
    expect(read('.env.secrets')).toContain('SENTRY_DSN_TOKEN=abc123\n');
    expect(text).toMatch(/^ {4}# services\.worker\.volumes: scratch:\/tmp\/scratch: a role mounts the app's volumes/m);
    expect(text).toMatch(/^ {4}# services\.worker\.deploy\.resources: not mapped$/m);
    expect(text).toMatch(/^ {4}# services\.celery_beat: named celery-beat here/m);
    expect(text).toMatch(/services\.frontend \(command: npm run dev\) also builds: not mapped \(another image: one service per boxship\.yml/);
    expect(config.accessories?.map((a) => a.name)).toEqual(['redis']);
  });

  it('Node + mongo: long-syntax ports, a Dockerfile elsewhere, build args, PORT left to boxship, keys it has no place for', () => {
    const { text, config } = initIn({
      'docker/Dockerfile.prod': 'FROM node:20-slim\nCOPY . .\nRUN npm ci\nCMD ["node", "index.js"]\n',
      'compose.yaml': lines(
        'version: "3.8"',
        'services:',
        '  app:',
        '    container_name: node-app',
        '    build:',
        '      context: .',
        '      dockerfile: docker/Dockerfile.prod',
        '      args:',
        '        NODE_ENV: production',
        '        NPM_TOKEN: npm-tok',
        '      cache_from: [x]',
        '    restart: unless-stopped',
        '    ports:',
        '      - target: 8080',
        '        published: 80',
        '        protocol: tcp',
        '    environment:',
        '      - MONGO_URL=mongodb://mongo:27017/app',
        '      - PORT=8080',
        '    depends_on: { mongo: { condition: service_healthy } }',
        '    deploy: { replicas: 2 }',
        '    profiles: [prod]',
        '  mongo:',
        '    image: mongo:7',
        '    ports: ["27017:27017"]',
        '    volumes:',
        '      - type: volume',
        '        source: mongo_data',
        '        target: /data/db',
        '    healthcheck: { test: ["CMD", "mongosh", "--eval", "ping"] }',
        'volumes:',
        '  mongo_data:',
      ),
    });
    expect(config.app.port).toBe(8080);
    expect(config.app.env).toEqual({ MONGO_URL: 'mongodb://mongo:27017/app' });
    expect(config.build.args).toEqual({ NODE_ENV: 'production' });
    expect(config.build.dockerfile).toMatch(/docker\/Dockerfile\.prod$/);
    expect(text).not.toContain('npm-tok');
    for (const key of ['build.args.NPM_TOKEN', 'build.cache_from', 'container_name', 'restart', 'deploy', 'profiles', 'depends_on']) {
      expect(text).toMatch(new RegExp(`^# {3}services\\.app\\.${key.replace(/\./g, '\\.')}: `, 'm'));
    }
    const mongo = config.accessories?.[0];
    expect(mongo).toMatchObject({ name: 'mongo', image: 'mongo:7', port: 27017 });
    expect(mongo?.volumes.map((v) => [v.name, v.path])).toEqual([['mongo_data', '/data/db']]);
    expect(text).toMatch(/^ {4}# services\.mongo\.healthcheck: boxship waits for the port/m);
    expect(text).toMatch(/^ {4}# services\.mongo\.ports: not published on the host/m);
  });

  it('a compose file without a build: service leaves the app to the Dockerfile, and its images become accessories', () => {
    const { config, text } = initIn({
      Dockerfile: 'FROM node:20\nEXPOSE 4000\n',
      'compose.yaml': 'services:\n  cache:\n    image: memcached:1.6\n  odd: {}\n',
    });
    expect(config.app.port).toBe(4000);
    expect(config.accessories?.map((a) => [a.name, a.port])).toEqual([['cache', 11211]]);
    expect(text).toMatch(/^# {3}services\.odd: neither build: nor image:, not mapped$/m);
    const redis = parseCompose('services:\n  r:\n    image: redis\n    command: redis-server --requirepass ${REDIS_PASSWORD}\n', 'compose.yaml');
    expect(redis.accessories[0]?.cmd).toBeUndefined();
    expect(redis.accessories[0]?.notes).toEqual([expect.stringMatching(/^services\.r\.command: uses compose interpolation: not mapped/)]);
  });
});

describe('init from compose: errors', () => {
  it('names file:line:column of a compose file that does not parse', () => {
    let err: unknown;
    try {
      parseCompose('services:\n  web:\n    build: .\n    ports: [1\n', 'compose.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toMatch(/^compose\.yaml:\d+:\d+: invalid YAML: /);
    expect((err as ConfigError).exitCode).toBe(2);
    expect(() => parseCompose('- a\n- b\n', 'compose.yml')).toThrow(/^compose\.yml:1:1: no services: map in this compose file/);
  });
});

describe('init from compose: the fields', () => {
  it('reads every form of a port, env entry, volume and command', () => {
    expect(['8000', '8000:8000', '127.0.0.1:8080:8000/tcp', '8000-8001:8000-8001', 8000, { target: 8000, published: 80 }].map(containerPort)).toEqual([
      8000, 8000, 8000, 8000, 8000, 8000,
    ]);
    expect(containerPort('x')).toBeUndefined();
    expect(envEntries(['A=1', 'B', 'C=x=y'])).toEqual([
      ['A', '1'],
      ['B', undefined],
      ['C', 'x=y'],
    ]);
    expect(envEntries({ A: 1, B: null, C: true })).toEqual([
      ['A', '1'],
      ['B', undefined],
      ['C', 'true'],
    ]);
    expect(volumeMount('data:/d:ro')).toEqual({ name: 'data', target: '/d', readOnly: true });
    expect(volumeMount('~/x:/d')).toEqual({ bind: '~/x', target: '/d', readOnly: false });
    expect(volumeMount({ type: 'tmpfs', target: '/t' })).toBeUndefined();
    expect(commandWords(`sh -c "echo 'hi there'" a\\ b`)).toEqual(['sh', '-c', "echo 'hi there'", 'a b']);
    expect(commandWords(['a', 1])).toEqual(['a', '1']);
  });

  it('interpolates as compose does, and tells secrets by name or by a password in a URL', () => {
    const vars = { A: 'a', E: '' };
    expect(interpolate('$A-${A}-${E:-d}-${E-d}-${Z:-z}-$$A', vars)).toBe('a-a-d--z-$A');
    expect(interpolate('${MISSING}', vars)).toBeUndefined();
    expect(['SECRET_KEY', 'API_KEY', 'JWT_SECRET', 'DB_PASSWORD', 'GITHUB_TOKEN', 'SECRET_KEY_BASE'].filter((k) => looksSecret(k, 'x'))).toHaveLength(6);
    expect(['KEYBOARD', 'LOG_LEVEL', 'MONKEY_LEVEL'].filter((k) => looksSecret(k, 'x'))).toEqual([]);
    expect(looksSecret('DATABASE_URL', 'postgres://u:p@db/x')).toBe(true);
    expect(looksSecret('REDIS_URL', 'redis://redis:6379/0')).toBe(false);
  });
});
