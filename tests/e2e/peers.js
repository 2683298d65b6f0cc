// The real processes the dashboard tests run against, each on 127.0.0.1 on
// free ports, stopped by process id when the tests end: `certgate serve`
// (fresh data dir, first account's API key read from its output) and
// pebble-challtestsrv as the customer's DNS.
import {spawn} from 'node:child_process';
import {mkdtempSync, rmSync} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const children = new Set();
const tempDirs = new Set();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  for (const dir of tempDirs) rmSync(dir, {recursive: true, force: true});
});

// A fresh directory under the system temp dir, removed when the test process
// exits (however the tests ended).
export function tempDir(prefix) {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const {port} = server.address();
      server.close(() => resolve(port));
    });
  });
}

function startProcess(argv, {env = {}, ready, what, timeoutMs = 20000}) {
  const child = spawn(argv[0], argv.slice(1), {env: {...process.env, ...env},
                                                stdio: ['ignore', 'pipe', 'pipe']});
  children.add(child);
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  child.on('exit', () => children.delete(child));
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const check = async () => {
      if (child.exitCode !== null) {
        reject(new Error(`${what} exited with ${child.exitCode}:\n${output}`));
        return;
      }
      if (await ready(output)) {
        resolve({child, output: () => output});
        return;
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        reject(new Error(`${what} was not ready within ${timeoutMs} ms:\n${output}`));
        return;
      }
      setTimeout(check, 50);
    };
    check();
  });
}

export async function stop(proc) {
  if (!proc || proc.child.exitCode !== null) return;
  const exited = new Promise((resolve) => proc.child.once('exit', resolve));
  proc.child.kill('SIGTERM');
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), 10000);
  await exited;
  clearTimeout(timer);
}

function acceptsTcp(port) {
  return new Promise((resolve) => {
    const s = net.connect({host: '127.0.0.1', port});
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

// pebble-challtestsrv answering DNS for the customer's zone. setCname()
// publishes the record a user would create at their DNS provider.
export async function startChallTestSrv() {
  const [dnsPort, managementPort] = [await freePort(), await freePort()];
  const proc = await startProcess([
    'pebble-challtestsrv', '-dns01', `127.0.0.1:${dnsPort}`,
    '-management', `127.0.0.1:${managementPort}`, '-http01', '', '-https01', '',
    '-tlsalpn01', '', '-defaultIPv4', '127.0.0.1', '-defaultIPv6', '',
  ], {what: 'pebble-challtestsrv',
      ready: async () => (await acceptsTcp(managementPort)) && acceptsTcp(dnsPort)});
  return {
    ...proc,
    dnsAddress: `127.0.0.1:${dnsPort}`,
    async setCname(host, target) {
      const res = await fetch(`http://127.0.0.1:${managementPort}/set-cname`, {
        method: 'POST', body: JSON.stringify({host: `${host}.`, target: `${target}.`})});
      if (!res.ok) throw new Error(`challtestsrv set-cname: HTTP ${res.status}`);
    },
  };
}

// `certgate serve` with a fresh data dir. ACME points at a closed local
// port: nothing leaves the machine, and automatic domains stay in their
// provisioning state for the tests to look at.
export async function startCertgate({binary, resolver}) {
  const dir = tempDir('certgate-e2e-');
  const closedPort = await freePort();
  const proc = await startProcess([
    binary, 'serve', '--data-dir', path.join(dir, 'data'),
    '--api-listen', '127.0.0.1:0', '--https-listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0',
    '--resolver', resolver, '--acme-directory', `https://127.0.0.1:${closedPort}/directory`,
    '--acme-retry-min', '1', '--acme-retry-max', '5',
  ], {what: 'certgate serve', ready: (out) => out.includes('certgate ready')});
  const out = proc.output();
  const key = /export CERTGATE_API_KEY=(\S+)/.exec(out)?.[1];
  const api = /^api: (http:\/\/\S+)$/m.exec(out)?.[1];
  if (!key || !api) throw new Error(`certgate printed no API key or address:\n${out}`);
  return {...proc, key, api, dir, cleanup: () => rmSync(dir, {recursive: true, force: true})};
}
