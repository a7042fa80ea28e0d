// --ca-file: the extra CA certificates to trust for the proxy's TLS. Checked once, up front (exit 3 on a bad file),
// so a file without a certificate (a key, /etc/passwd, a binary) is never silently "trusted".

import { readFileSync, statSync } from 'node:fs';
import { UsageError } from '../errors.js';

/** A CA bundle bigger than this is not a CA bundle (the Mozilla bundle is ~220 KB). */
const MAX_BYTES = 4 * 1024 * 1024;
const PEM_CERT = /-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]{1,65536}?-----END CERTIFICATE-----/g;

/** The path back when FILE holds at least one PEM certificate; a UsageError naming the problem otherwise. */
export function checkCaFile(file: string): string {
  let size: number;
  try {
    const st = statSync(file);
    if (st.isDirectory()) throw new UsageError(`--ca-file ${file}: is a directory, expected a PEM file`);
    if (!st.isFile()) throw new UsageError(`--ca-file ${file}: not a regular file, expected a PEM file`);
    size = st.size;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(
      `--ca-file ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (code ?? 'cannot read it')}`,
    );
  }
  if (size > MAX_BYTES)
    throw new UsageError(`--ca-file ${file}: ${size} bytes is too large for a CA bundle (at most ${MAX_BYTES})`);
  let text: string;
  try {
    text = readFileSync(file, 'latin1');
  } catch (err) {
    throw new UsageError(`--ca-file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'cannot read it'}`);
  }
  let found = 0;
  // node:crypto only when a --ca-file is given: this module loads on every start.
  const { X509Certificate } = process.getBuiltinModule('node:crypto');
  for (const m of text.matchAll(PEM_CERT)) {
    try {
      new X509Certificate(m[0]);
      found++;
    } catch {
      throw new UsageError(`--ca-file ${file}: a "BEGIN CERTIFICATE" block in it is not a valid certificate`);
    }
  }
  if (found === 0)
    throw new UsageError(
      `--ca-file ${file}: no certificate in ${file} (expected PEM "-----BEGIN CERTIFICATE-----" blocks)`,
    );
  return file;
}
