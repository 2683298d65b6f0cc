// ngrok's own TypeScript API client (@ngrok/ngrok-api 0.11.0, the latest on
// npm) against a real `certgate serve`: a script written for ngrok's API
// works unchanged. That client version has no endpoint create, so endpoints
// are made through the API directly and read back through the client.
//
// Run through CTest (ngrok_client_e2e), or by hand:
//   CERTGATE_BINARY=build/src/cli/certgate node --test tests/e2e/ngrok_client.test.js
import assert from 'node:assert/strict';
import {after, before, test} from 'node:test';
import ngrokApi from '@ngrok/ngrok-api';
import {makeChain} from './pki.js';
import {startCertgate, startChallTestSrv, stop, tempDir} from './peers.js';

const {Ngrok} = ngrokApi;
const BINARY = process.env.CERTGATE_BINARY ?? 'build/src/cli/certgate';

let dns;
let certgate;
let ngrok;

before(async () => {
  dns = await startChallTestSrv();
  certgate = await startCertgate({binary: BINARY, resolver: dns.dnsAddress});
  ngrok = new Ngrok({apiToken: certgate.key, baseUrl: certgate.api});
});

after(async () => {
  await stop(certgate);
  await stop(dns);
  certgate?.cleanup();
});

// The error object the client throws: a plain object, not an Error.
async function rejection(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  assert.fail('the call succeeded');
}

// 0.11.0 reads a JSON body from every DELETE; ngrok (and certgate) answer a
// delete with 204 and no body, so that client rejects with a SyntaxError
// after the delete has happened (fixed in 0.12.0). The delete must have
// succeeded: a later get is a 404.
async function deleteWith(service, id) {
  const e = await rejection(service.delete(id));
  assert.ok(e instanceof SyntaxError, `delete ${id}: ${JSON.stringify(e)}`);
  const gone = await rejection(service.get(id));
  assert.equal(gone.statusCode, 404);
}

test('TLS certificates: create, get, list, update, delete', async () => {
  const pki = makeChain(tempDir('certgate-ngrok-client-'), {names: ['tls.example.com'], days: 30});
  const cert = await ngrok.tlsCertificates.create({
    certificatePem: pki.chain, privateKeyPem: pki.key, description: 'from the ngrok client',
    metadata: '{"team":"edge"}',
  });
  assert.match(cert.id, /^cert_/);
  assert.equal(cert.uri, `${certgate.api}/tls_certificates/${cert.id}`);
  assert.equal(cert.subjectCommonName, 'tls.example.com');
  assert.deepEqual(cert.subjectAlternativeNames.dnsNames, ['tls.example.com']);
  assert.equal(cert.privateKeyType, 'ecdsa');
  assert.equal(cert.description, 'from the ngrok client');
  assert.equal(cert.privateKeyPem, undefined);

  const got = await ngrok.tlsCertificates.get(cert.id);
  assert.equal(got.id, cert.id);
  assert.equal(got.certificatePem, cert.certificatePem);

  const list = await ngrok.tlsCertificates.list();
  assert.ok(list.some((c) => c.id === cert.id));

  const updated = await ngrok.tlsCertificates.update({id: cert.id, description: 'renamed'});
  assert.equal(updated.description, 'renamed');
  assert.equal(updated.metadata, '{"team":"edge"}');

  await deleteWith(ngrok.tlsCertificates, cert.id);
});

test('reserved domains: create (automatic by default), get, list past a page, update, delete', async () => {
  const d = await ngrok.reservedDomains.create({domain: 'client.example.com', region: 'us',
                                                description: 'made by the ngrok client'});
  assert.match(d.id, /^rd_/);
  assert.equal(d.domain, 'client.example.com');
  assert.equal(d.region, '');
  assert.deepEqual(d.certificateManagementPolicy, {authority: 'letsencrypt', privateKeyType: 'ecdsa'});
  assert.equal(d.certificate, null);
  assert.ok(d.cnameTarget);

  // Over 100 domains: the client asks for the second page with ?beforeId=.
  for (let i = 0; i < 104; i++) {
    await ngrok.reservedDomains.create({domain: `page${i}.client.example.net`, region: ''});
  }
  const all = await ngrok.reservedDomains.list();
  assert.equal(all.length, 105);
  assert.equal(new Set(all.map((x) => x.id)).size, 105);

  const got = await ngrok.reservedDomains.get(d.id);
  assert.equal(got.description, 'made by the ngrok client');

  // An uploaded certificate in place of automatic management, and back.
  const pki = makeChain(tempDir('certgate-ngrok-client-'), {names: ['client.example.com'], days: 30});
  const cert = await ngrok.tlsCertificates.create({certificatePem: pki.chain, privateKeyPem: pki.key});
  await ngrok.reservedDomains.deleteCertificateManagementPolicy(d.id).catch(() => {});
  const uploaded = await ngrok.reservedDomains.update({id: d.id, certificateId: cert.id});
  assert.equal(uploaded.certificate.id, cert.id);
  assert.equal(uploaded.certificateManagementPolicy, null);
  const managed = await ngrok.reservedDomains.update({
    id: d.id, certificateManagementPolicy: {authority: 'letsencrypt', privateKeyType: 'rsa'},
  });
  assert.equal(managed.certificate, null);
  assert.deepEqual(managed.certificateManagementPolicy, {authority: 'letsencrypt', privateKeyType: 'rsa'});

  await deleteWith(ngrok.reservedDomains, d.id);
});

test('endpoints: list and get', async () => {
  const d = await ngrok.reservedDomains.create({domain: 'ep.example.org', region: ''});
  const res = await fetch(`${certgate.api}/endpoints`, {
    method: 'POST',
    headers: {Authorization: `Bearer ${certgate.key}`, 'Content-Type': 'application/json',
              'Ngrok-Version': '2'},
    body: JSON.stringify({url: 'https://ep.example.org', type: 'cloud', bindings: ['public'],
                          upstream_url: 'http://127.0.0.1:9'}),
  });
  assert.equal(res.status, 201, await res.clone().text());
  const created = await res.json();
  const list = await ngrok.endpoints.list();
  assert.deepEqual(list.map((e) => e.id), [created.id]);
  const ep = await ngrok.endpoints.get(created.id);
  assert.equal(ep.publicUrl, 'https://ep.example.org');
  assert.equal(ep.proto, 'https');
  assert.equal(ep.hostport, 'ep.example.org:443');
  assert.equal(ep.type, 'cloud');
  assert.equal(ep.domain.id, d.id);
});

test('errors carry ngrok\'s codes', async () => {
  const pki = makeChain(tempDir('certgate-ngrok-client-'), {names: ['err.example.com'], days: 30});
  const cert = await ngrok.tlsCertificates.create({certificatePem: pki.chain, privateKeyPem: pki.key});

  const both = await rejection(ngrok.reservedDomains.create({
    domain: 'err.example.com', region: '', certificateId: cert.id,
    certificateManagementPolicy: {authority: 'letsencrypt'},
  }));
  assert.equal(both.errorCode, 'ERR_NGROK_434');
  assert.equal(both.statusCode, 400);
  assert.match(both.details.get('operationId'), /^op_/);

  const unknown = await rejection(ngrok.reservedDomains.create({
    domain: 'unknown-cert.example.com', region: '', certificateId: 'cert_0000000000000000000000000000',
  }));
  assert.equal(unknown.errorCode, 'ERR_NGROK_1965');
  assert.equal(unknown.details.get('field'), 'certificate_id');

  const d = await ngrok.reservedDomains.create({domain: 'err.example.com', region: ''});
  const taken = await rejection(ngrok.reservedDomains.create({domain: 'err.example.com', region: ''}));
  assert.equal(taken.errorCode, 'ERR_NGROK_413');

  const detach = await rejection(ngrok.reservedDomains.deleteCertificate(d.id));
  assert.equal(detach.errorCode, 'ERR_NGROK_436');

  const empty = await rejection(ngrok.reservedDomains.update({id: d.id}));
  assert.equal(empty.errorCode, 'ERR_NGROK_422');

  const missing = await rejection(ngrok.tlsCertificates.get('cert_0000000000000000000000000000'));
  assert.equal(missing.statusCode, 404);

  const denied = await rejection(new Ngrok({apiToken: 'cg_not-a-real-key', baseUrl: certgate.api})
    .tlsCertificates.list());
  assert.match(denied.errorCode, /^ERR_NGROK_20[0-8]$/);
});
