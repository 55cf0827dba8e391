import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** PEM files made by openssl for one test: a CA, a server certificate for 127.0.0.1/localhost, a client one. */
export interface TestCertificates {
  readonly dir: string;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly ca: Buffer;
  readonly clientCert: Buffer;
  readonly clientKey: Buffer;
  /** A second CA that signed nothing here: trusting only it must fail. */
  readonly otherCa: Buffer;
  /** Removes the directory. */
  remove(): Promise<void>;
}

async function openssl(dir: string, args: readonly string[]): Promise<void> {
  await run('openssl', args, { cwd: dir, timeout: 30_000 });
}

/** An EC key and a certificate signed by the CA in `dir`, with `subjectAltName`. */
async function issue(dir: string, name: string, subject: string, altNames: string): Promise<void> {
  await openssl(dir, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`]);
  await openssl(dir, ['req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`]);
  await writeFile(join(dir, `${name}.ext`), `subjectAltName=${altNames}\n`);
  await openssl(dir, [
    ...['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial'],
    ...['-days', '1', '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.crt`],
  ]);
}

async function selfSignedCa(dir: string, name: string, subject: string): Promise<void> {
  await openssl(dir, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`]);
  await openssl(dir, [
    ...['req', '-x509', '-new', '-key', `${name}.key`, '-sha256', '-days', '1'],
    ...['-subj', subject, '-out', `${name}.crt`],
  ]);
}

/** Generates a throwaway CA, server and client certificates with the `openssl` CLI in a temp dir. */
export async function makeCertificates(): Promise<TestCertificates> {
  const dir = await mkdtemp(join(tmpdir(), 'strata-tls-'));
  try {
    await selfSignedCa(dir, 'ca', '/CN=Strata test CA');
    await selfSignedCa(dir, 'other-ca', '/CN=Some other CA');
    await issue(dir, 'server', '/CN=localhost', 'IP:127.0.0.1,DNS:localhost');
    await issue(dir, 'client', '/CN=strata-client', 'DNS:strata-client');
    const read = (file: string) => readFile(join(dir, file));
    return {
      dir,
      caFile: join(dir, 'ca.crt'),
      certFile: join(dir, 'server.crt'),
      keyFile: join(dir, 'server.key'),
      ca: await read('ca.crt'),
      clientCert: await read('client.crt'),
      clientKey: await read('client.key'),
      otherCa: await read('other-ca.crt'),
      remove: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** A loopback port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}
