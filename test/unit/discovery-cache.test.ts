// The discovery cache on disk: where it lives, what a file holds (never a credential), how long it is believed, and
// that anything wrong with it (corrupt, unwritable, someone else's) is ignored rather than failing a run.

import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DISCOVERY_TTL_MS, DiscoveryCache, cacheFileName, discoveryDir } from '../../src/cluster/discovery-cache.js';
import { parseOptions } from '../../src/options.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'gwdoctor-dc-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) {
    chmodSync(d, 0o700);
    rmSync(d, { recursive: true, force: true });
  }
});

const id = { server: 'https://alice:s3cret@api.example.com:6443', user: 'alice', username: 'alice' };
const found = { versions: ['v1', 'v1beta1'], referenceGrant: 'v1', v1Resources: ['httproutes', 'referencegrants'] };

describe('discovery cache', () => {
  it('lives under $XDG_CACHE_HOME/gwdoctor/discovery, else ~/.cache/gwdoctor/discovery, and nowhere when neither exists', () => {
    const x = tmp();
    expect(discoveryDir({ XDG_CACHE_HOME: x, HOME: '/nonexistent' })).toBe(join(x, 'gwdoctor', 'discovery'));
    const h = tmp();
    expect(discoveryDir({ HOME: h })).toBe(join(h, '.cache', 'gwdoctor', 'discovery'));
    expect(discoveryDir({ XDG_CACHE_HOME: 'relative/dir', HOME: h })).toBe(join(h, '.cache', 'gwdoctor', 'discovery'));
    expect(discoveryDir({ HOME: '/nonexistent-home' })).toBeNull();
    expect(DiscoveryCache.for(id, { enabled: true, env: { HOME: '/nonexistent-home' } }).file).toBeNull();
    expect(existsSync('/nonexistent-home')).toBe(false);
  });

  it('keys an entry by server and user, and no secret reaches the file name or the file', () => {
    const x = tmp();
    const c = DiscoveryCache.for(id, { enabled: true, env: { XDG_CACHE_HOME: x } });
    c.write(found);
    const name = cacheFileName(id);
    expect(name).toMatch(/^api\.example\.com_6443-[0-9a-f]{32}\.json$/);
    expect(cacheFileName({ ...id, user: 'bob' })).not.toBe(name);
    expect(cacheFileName({ ...id, server: 'https://api.example.com:7443' })).not.toBe(name);
    // user:pass in the URL is not part of the key: the same server and user share the entry
    expect(cacheFileName({ ...id, server: 'https://api.example.com:6443' })).toBe(name);
    const text = readFileSync(c.file as string, 'utf8');
    expect(text).not.toMatch(/s3cret|alice/);
    expect(JSON.parse(text)).toMatchObject({
      versions: ['v1', 'v1beta1'],
      referenceGrant: 'v1',
      v1Resources: ['httproutes', 'referencegrants'],
    });
  });

  it('writes 0600 files in 0700 directories, atomically (no temporary file left), and reads them back', () => {
    const x = tmp();
    const c = DiscoveryCache.for(id, { enabled: true, env: { XDG_CACHE_HOME: x } });
    expect(c.read()).toBeNull();
    c.write(found);
    expect(c.read()).toEqual(found);
    const dir = join(x, 'gwdoctor', 'discovery');
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(x, 'gwdoctor')).mode & 0o777).toBe(0o700);
    expect(statSync(c.file as string).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual([cacheFileName(id)]);
  });

  it(`believes an entry for ${DISCOVERY_TTL_MS / 60_000} minutes, not after, and not one dated in the future`, () => {
    const x = tmp();
    let now = 1_000_000;
    const c = DiscoveryCache.for(id, { enabled: true, env: { XDG_CACHE_HOME: x }, now: () => now });
    c.write(found);
    now += DISCOVERY_TTL_MS - 1;
    expect(c.read()).toEqual(found);
    now += 1;
    expect(c.read()).toBeNull();
    now = 1_000_000 - 60_000;
    expect(c.read()).toBeNull();
  });

  it('ignores a corrupt or foreign entry (a note for --debug), and drop() removes the entry', () => {
    const x = tmp();
    const notes: string[] = [];
    const c = DiscoveryCache.for(id, { enabled: true, env: { XDG_CACHE_HOME: x }, note: (m) => notes.push(m) });
    c.write(found);
    for (const bad of [
      '{not json',
      '{"format":"gwdoctor.discovery/v1","fetchedAt":1,"versions":[],"referenceGrant":"v1"}',
      '{"format":"gwdoctor.discovery/v1","fetchedAt":1,"versions":["v1; rm -rf /"],"referenceGrant":"v1"}',
      'null',
    ]) {
      writeFileSync(c.file as string, bad);
      expect(c.read()).toBeNull();
    }
    expect(notes.length).toBe(4);
    c.write(found);
    expect(c.read()).toEqual(found);
    c.drop();
    expect(existsSync(c.file as string)).toBe(false);
    c.drop(); // already gone: no error
  });

  it('an unwritable cache directory is no error: nothing is cached and the next read is a miss', () => {
    if (process.getuid?.() === 0) {
      // root writes through 0500: make the cache path a file instead, which nobody can mkdir through
      const x = tmp();
      writeFileSync(join(x, 'gwdoctor'), 'not a directory');
      const notes: string[] = [];
      const c = DiscoveryCache.for(id, { enabled: true, env: { XDG_CACHE_HOME: x }, note: (m) => notes.push(m) });
      expect(() => c.write(found)).not.toThrow();
      expect(c.read()).toBeNull();
      expect(notes.join('\n')).toMatch(/cannot write \((ENOTDIR|EEXIST)\)/);
      return;
    }
    const x = tmp();
    chmodSync(x, 0o500);
    const c = DiscoveryCache.for(id, { enabled: true, env: { XDG_CACHE_HOME: x } });
    expect(() => c.write(found)).not.toThrow();
    expect(c.read()).toBeNull();
  });

  it('is on by default and off with --no-discovery-cache or GWDOCTOR_NO_DISCOVERY_CACHE', () => {
    expect(parseOptions(['api.example.com'], {}).discoveryCache).toBe(true);
    expect(parseOptions(['--no-discovery-cache', 'api.example.com'], {}).discoveryCache).toBe(false);
    expect(parseOptions(['api.example.com'], { GWDOCTOR_NO_DISCOVERY_CACHE: '1' }).discoveryCache).toBe(false);
    expect(parseOptions(['api.example.com'], { GWDOCTOR_NO_DISCOVERY_CACHE: 'true' }).discoveryCache).toBe(false);
    expect(parseOptions(['api.example.com'], { GWDOCTOR_NO_DISCOVERY_CACHE: '0' }).discoveryCache).toBe(true);
    expect(DiscoveryCache.for(id, { enabled: false, env: { XDG_CACHE_HOME: tmp() } }).file).toBeNull();
  });
});
