// A throwaway CA and a server certificate it signed for 127.0.0.1, made with openssl in `dir`,
// for tests of Redis over TLS.
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestCertificates {
  caFile: string;
  certFile: string;
  keyFile: string;
}

const openssl = (dir: string, ...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

/** A self-signed CA valid for 2 days, named `commonName`: its key and certificate files in `dir`. */
export function makeTestCa(dir: string, commonName: string, files: { key: string; cert: string }): void {
  if (spawnSync('openssl', ['version']).error)
    throw new Error('openssl is needed for TLS tests: apt-get install openssl');
  openssl(
    dir,
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    `/CN=${commonName}`,
    '-keyout',
    files.key,
    '-out',
    files.cert,
  );
}

export function makeTestCertificates(dir: string): TestCertificates {
  makeTestCa(dir, 'djq test CA', { key: 'ca.key', cert: 'ca.crt' });
  openssl(
    dir,
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
  );
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(
    dir,
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    'san.ext',
    '-out',
    'server.crt',
  );
  return { caFile: join(dir, 'ca.crt'), certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key') };
}
