import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/problems.js';

const dir = mkdtempSync(join(tmpdir(), 'boxship-unit-'));
writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\n');
const load = (...lines: string[]) => parseConfig(['service: hello', 'hosts: [root@10.0.0.5]', ...lines].join('\n'), join(dir, 'boxship.yml'));

describe('hooks in boxship.yml', () => {
  it('a string runs with sh -c, a list is the argv; no hooks key: no hooks', () => {
    expect(load('hooks:', '  pre_release: npm test', '  pre_rollout: [npm, run, migrate]').hooks).toEqual({
      preRelease: ['sh', '-c', 'npm test'],
      preRollout: ['npm', 'run', 'migrate'],
      timeoutSeconds: 600,
    });
    expect(load().hooks).toBeUndefined();
  });

  it('gives each hook a time limit: 600 s unless hooks.timeout_seconds says', () => {
    expect(load('hooks:', '  pre_rollout: x', '  timeout_seconds: 30').hooks?.timeoutSeconds).toBe(30);
    expect(() => load('hooks:', '  pre_rollout: x', '  timeout_seconds: 0')).toThrow(/expected a whole number from 1 to 86400/);
  });

  it('rejects unknown hooks and empty commands, naming the line', () => {
    expect(() => load('hooks:', '  pre_deploy: x')).toThrow(ConfigError);
    expect(() => load('hooks:', '  post_rollout: []')).toThrow(/boxship\.yml:4:17.*expected a command/s);
  });
});
