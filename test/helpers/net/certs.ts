// A test PKI made at run time with openssl: a trusted test CA, an untrusted one, and leaf certificates with chosen
// names and validity windows (`openssl ca` takes explicit start and end dates, so an expired one is easy).

import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Leaf {
  cert: string;
  key: string;
}

function ossl(bin: string, args: string[], cwd: string): void {
  execFileSync(bin, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
}

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
}

export class TestPki {
  constructor(
    readonly dir: string,
    private readonly openssl: string,
  ) {}

  /** A self-signed CA with its own `openssl ca` database. Returns the CA certificate path. */
  ca(name: string): string {
    const d = join(this.dir, name);
    mkdirSync(join(d, 'new'), { recursive: true });
    writeFileSync(join(d, 'index.txt'), '');
    writeFileSync(join(d, 'serial'), '1000\n');
    writeFileSync(
      join(d, 'ca.cnf'),
      [
        '[ ca ]',
        'default_ca = CA_default',
        '[ CA_default ]',
        `dir = ${d}`,
        'database = $dir/index.txt',
        'serial = $dir/serial',
        'new_certs_dir = $dir/new',
        'certificate = $dir/ca.pem',
        'private_key = $dir/ca.key',
        'default_md = sha256',
        'policy = any',
        'unique_subject = no',
        'copy_extensions = copy',
        'default_days = 90',
        '[ any ]',
        'commonName = supplied',
      ].join('\n'),
    );
    ossl(
      this.openssl,
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        'ca.key',
        '-out',
        'ca.pem',
        '-days',
        '30',
        '-subj',
        `/CN=${name}`,
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ],
      d,
    );
    return join(d, 'ca.pem');
  }

  /** A leaf for `names` (SANs, first one also CN), signed by CA `caName`, valid from `from` to `to`. */
  leaf(caName: string, file: string, names: string[], from: Date, to: Date): Leaf {
    const d = join(this.dir, caName);
    const key = join(this.dir, `${file}.key`);
    const csr = join(this.dir, `${file}.csr`);
    const cert = join(this.dir, `${file}.pem`);
    ossl(
      this.openssl,
      [
        'req',
        '-new',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        csr,
        '-subj',
        `/CN=${names[0]}`,
        '-addext',
        `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`,
        '-addext',
        'extendedKeyUsage=serverAuth',
      ],
      this.dir,
    );
    ossl(
      this.openssl,
      [
        'ca',
        '-batch',
        '-config',
        join(d, 'ca.cnf'),
        '-notext',
        '-startdate',
        stamp(from),
        '-enddate',
        stamp(to),
        '-in',
        csr,
        '-out',
        cert,
      ],
      this.dir,
    );
    return { cert, key };
  }
}

const DAY = 86_400_000;
export const days = (n: number) => new Date(Date.now() + n * DAY);
