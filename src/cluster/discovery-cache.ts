// What the API server serves of the Gateway API (its versions, the ReferenceGrant version), remembered on disk between
// runs like kubectl's ~/.kube/cache/discovery, so that a warm run makes no discovery GET.
//
// * Where: $XDG_CACHE_HOME/gwdoctor/discovery/, else ~/.cache/gwdoctor/discovery/ (only when that base directory
//   exists: a HOME that does not exist gets no cache rather than a new directory tree). Directories 0700, files 0600.
// * Key: the server URL (without any user:pass) and who asks (the kubeconfig user's name, username, exec/auth-provider
//   command, client-certificate) hashed with SHA-256. No token, password or key is ever part of the key or the file.
// * TTL 5 minutes (kubectl: 6 hours, which suits shell completion): long enough for the reruns of a debugging session
//   or a CI job, short enough that an upgrade of the Gateway API CRDs is seen within minutes. What a stale entry can
//   get wrong is bounded anyway: a version it says is served and is not answers 404, and the reader then drops the
//   entry and discovers again (live.ts); a version served since (ReferenceGrant v1 added) only means a printed grant
//   keeps the older, still served, apiVersion until the entry expires.
// * A cache that cannot be read, parsed or written is ignored (a note with --debug): it never fails a run.
// * Writes are atomic: a temporary file in the same directory, then rename.

import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

export interface Discovered {
  /** Served versions of gateway.networking.k8s.io, as the API server lists them. */
  versions: string[];
  /** The version ReferenceGrants are read and written with. */
  referenceGrant: string;
  /** Resources served at v1 (GRPCRoute and ListenerSet may not be: their lists are then empty, not an error). */
  v1Resources: string[];
}

export const DISCOVERY_TTL_MS = 5 * 60_000;
const FORMAT = 'gwdoctor.discovery/v2'; // v2: + v1Resources (entries of another format are ignored)
const RESOURCE = /^[a-z0-9][a-z0-9.-]*$/;
const VERSION = /^v\d+((alpha|beta)\d+)?$/;

/** The cache directory, or null when there is no existing base to put it under. */
export function discoveryDir(env: NodeJS.ProcessEnv = process.env): string | null {
  const xdg = env['XDG_CACHE_HOME'];
  // The XDG spec: a relative $XDG_CACHE_HOME is invalid and must be ignored.
  if (xdg && isAbsolute(xdg)) return existsSync(xdg) ? join(xdg, 'gwdoctor', 'discovery') : null;
  const home = env['HOME'] || homedir();
  if (!home || !isAbsolute(home) || !existsSync(home)) return null;
  return join(home, '.cache', 'gwdoctor', 'discovery');
}

/** Who asks, without secrets: the fields of a kubeconfig user that name an identity, never the ones that prove it. */
export interface Identity {
  server: string;
  user?: string | undefined;
  username?: string | undefined;
  exec?: string | undefined;
  authProvider?: string | undefined;
  clientCertificate?: string | undefined;
}

/** File name: host_port for the person who looks into the directory, then the hash of server and identity. */
export function cacheFileName(id: Identity): string {
  let hostPort = 'server';
  try {
    const u = new URL(id.server);
    hostPort = `${u.hostname}_${u.port || (u.protocol === 'http:' ? '80' : '443')}`.replace(/[^A-Za-z0-9._-]/g, '_');
  } catch {
    // an unparsable URL is refused before any read (live.ts); the hash alone still keys it
  }
  const canonical = JSON.stringify([
    stripUserinfo(id.server),
    id.user ?? '',
    id.username ?? '',
    id.exec ?? '',
    id.authProvider ?? '',
    id.clientCertificate ?? '',
  ]);
  return `${hostPort}-${createHash('sha256').update(canonical).digest('hex').slice(0, 32)}.json`;
}

function stripUserinfo(server: string): string {
  try {
    const u = new URL(server);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return server;
  }
}

function valid(d: unknown): d is { format: string; fetchedAt: number } & Discovered {
  if (typeof d !== 'object' || d === null) return false;
  const o = d as Record<string, unknown>;
  return (
    o['format'] === FORMAT &&
    typeof o['fetchedAt'] === 'number' &&
    Array.isArray(o['versions']) &&
    o['versions'].length > 0 &&
    o['versions'].every((v) => typeof v === 'string' && VERSION.test(v)) &&
    typeof o['referenceGrant'] === 'string' &&
    VERSION.test(o['referenceGrant']) &&
    Array.isArray(o['v1Resources']) &&
    o['v1Resources'].every((r) => typeof r === 'string' && RESOURCE.test(r))
  );
}

export class DiscoveryCache {
  constructor(
    /** null: no cache (turned off, or nowhere to put it). */
    readonly file: string | null,
    private readonly note: (msg: string) => void = () => undefined,
    private readonly now: () => number = Date.now,
    private readonly ttlMs = DISCOVERY_TTL_MS,
  ) {}

  static for(
    id: Identity,
    opts: { enabled: boolean; env?: NodeJS.ProcessEnv; note?: (msg: string) => void; now?: () => number },
  ): DiscoveryCache {
    const dir = opts.enabled ? discoveryDir(opts.env) : null;
    return new DiscoveryCache(dir ? join(dir, cacheFileName(id)) : null, opts.note, opts.now);
  }

  /** A fresh entry, or null (missing, expired, from the future, corrupt, not ours). */
  read(): Discovered | null {
    if (!this.file) return null;
    try {
      const st = statSync(this.file, { throwIfNoEntry: false });
      if (!st) return null;
      if (!st.isFile() || (typeof process.getuid === 'function' && st.uid !== process.getuid())) {
        this.note(`discovery cache ${this.file}: not a regular file of this user, ignored`);
        return null;
      }
      const d: unknown = JSON.parse(readFileSync(this.file, 'utf8'));
      if (!valid(d)) {
        this.note(`discovery cache ${this.file}: not a discovery entry, ignored`);
        return null;
      }
      const age = this.now() - d.fetchedAt;
      if (age < 0 || age >= this.ttlMs) return null;
      return { versions: [...d.versions], referenceGrant: d.referenceGrant, v1Resources: [...d.v1Resources] };
    } catch (err) {
      this.note(`discovery cache ${this.file}: ${(err as Error).message.split('\n')[0]}, ignored`);
      return null;
    }
  }

  /** Remember what discovery found: a temporary 0600 file in a 0700 directory, renamed over the entry. */
  write(d: Discovered): void {
    if (!this.file) return;
    const dir = join(this.file, '..');
    const tmp = `${this.file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    let fd: number | null = null;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      fd = openSync(tmp, 'wx', 0o600);
      writeSync(
        fd,
        `${JSON.stringify({ format: FORMAT, fetchedAt: this.now(), versions: d.versions, referenceGrant: d.referenceGrant, v1Resources: d.v1Resources })}\n`,
      );
      fsyncSync(fd);
      closeSync(fd);
      fd = null;
      renameSync(tmp, this.file);
    } catch (err) {
      this.note(
        `discovery cache ${this.file}: cannot write (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}), not cached`,
      );
      if (fd !== null) closeSync(fd);
      try {
        unlinkSync(tmp);
      } catch {
        // never created
      }
    }
  }

  /** Forget the entry (it said something the server no longer serves). */
  drop(): void {
    if (!this.file) return;
    try {
      unlinkSync(this.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        this.note(`discovery cache ${this.file}: cannot remove (${(err as NodeJS.ErrnoException).code})`);
    }
  }
}
