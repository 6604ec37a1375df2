import { describe, expect, it } from 'vitest';
import { applyDockerignore } from '../../src/image/dockerignore.js';

const files = (...paths: string[]) => paths.map((path) => ({ path, dir: false }));

describe('applyDockerignore', () => {
  it('sends everything, sorted with folders before their contents, when nothing is ignored', () => {
    expect(applyDockerignore(files('src/b.ts', 'README.md', 'src/a.ts'), '', new Set())).toEqual({
      files: ['README.md', 'src/a.ts', 'src/b.ts'],
      dirs: ['src'],
    });
  });

  it('leaves out an ignored folder and what it holds; comments and blank lines are no patterns', () => {
    const sent = applyDockerignore(files('node_modules/x/index.js', 'app.js', '#app.js'), '# deps\n\nnode_modules\n', new Set());
    expect(sent).toEqual({ files: ['#app.js', 'app.js'], dirs: [] });
  });

  it('enters an ignored folder when an exception may re-include a file under it', () => {
    const sent = applyDockerignore(files('docs/a.md', 'docs/keep.md'), 'docs\n!docs/keep.md\n', new Set());
    expect(sent).toEqual({ files: ['docs/keep.md'], dirs: ['docs'] });
  });

  it('sends what is always kept, and the folders that hold it, whatever the patterns', () => {
    const sent = applyDockerignore(
      files('.dockerignore', 'build/Dockerfile', 'build/other'),
      '.dockerignore\nbuild\n',
      new Set(['.dockerignore', 'build/Dockerfile']),
    );
    expect(sent).toEqual({ files: ['.dockerignore', 'build/Dockerfile'], dirs: ['build'] });
  });

  it('sends an empty folder entry that is not ignored, and matches case-sensitively', () => {
    const sent = applyDockerignore([{ path: 'cache', dir: true }, ...files('Secret.txt', 'secret.txt')], 'secret.txt\n', new Set());
    expect(sent).toEqual({ files: ['Secret.txt'], dirs: ['cache'] });
  });
});
