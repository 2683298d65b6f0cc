// Certificates for the tests, made with the openssl command line: a CA, a
// leaf it signs, and an unrelated key.
import {execFileSync} from 'node:child_process';
import {readFileSync, writeFileSync} from 'node:fs';
import path from 'node:path';

function openssl(args, cwd) {
  execFileSync('openssl', args, {cwd, stdio: ['ignore', 'ignore', 'pipe']});
}

function ecKey(dir, name) {
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', name], dir);
}

// A leaf for `names` valid for `days` days, signed by a fresh CA.
// Returns {chain, key, otherKey, notAfter: Date}.
export function makeChain(dir, {names, days}) {
  ecKey(dir, 'ca.key');
  openssl(['req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=certgate e2e CA', '-days', '30',
           '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
           '-out', 'ca.pem'], dir);
  ecKey(dir, 'leaf.key');
  ecKey(dir, 'other.key');
  openssl(['req', '-new', '-key', 'leaf.key', '-subj', `/CN=${names[0]}`, '-out', 'leaf.csr'], dir);
  writeFileSync(path.join(dir, 'leaf.ext'),
    `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}\n` +
    'keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n');
  openssl(['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
           '-days', String(days), '-extfile', 'leaf.ext', '-out', 'leaf.pem'], dir);
  const enddate = execFileSync('openssl', ['x509', '-noout', '-enddate', '-in', 'leaf.pem'], {cwd: dir})
    .toString().trim().replace(/^notAfter=/, '');
  const read = (f) => readFileSync(path.join(dir, f), 'utf8');
  return {
    chain: read('leaf.pem') + read('ca.pem'),
    leafFile: path.join(dir, 'leaf.pem'),
    key: read('leaf.key'),
    otherKey: read('other.key'),
    notAfter: new Date(enddate),
  };
}
