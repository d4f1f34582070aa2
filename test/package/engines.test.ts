import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import semver from 'semver';
import { ROOT } from '../helpers.js';

interface Lock {
  packages: Record<string, { version?: string; engines?: Record<string, string> | string[]; optional?: boolean }>;
}

describe('package', () => {
  it('installs on the oldest Node the README and package.json promise, without EBADENGINE warnings', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
    const oldest = semver.minVersion(pkg.engines.node)?.version;
    assert.ok(oldest, `package.json engines.node "${pkg.engines.node}" has a lowest version`);
    const promised = semver.minor(oldest) === 0 ? `${semver.major(oldest)}` : `${semver.major(oldest)}.${semver.minor(oldest)}`;
    assert.match(readFileSync(join(ROOT, 'README.md'), 'utf8'), new RegExp(`Node\\.js ${promised.replace('.', '\\.')} or later`));
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as Lock;
    const refused = Object.entries(lock.packages)
      .filter(([path, p]) => path !== '' && !p.optional && p.engines && !Array.isArray(p.engines) && p.engines.node)
      .filter(([, p]) => !semver.satisfies(oldest, (p.engines as Record<string, string>).node ?? '*'))
      .map(([path, p]) => `${path.replace(/.*node_modules\//, '')}@${p.version} wants node ${(p.engines as Record<string, string>).node}`);
    assert.deepEqual(refused, [], `npm ci on Node ${oldest} would warn EBADENGINE`);
  });
});
