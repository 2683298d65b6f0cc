// docs/openapi.yaml: a valid OpenAPI document, as a real validator
// (@apidevtools/swagger-parser) reads it, and one that a real certgate
// keeps to when ngrok's own TypeScript client talks to it: the client goes
// through a recording proxy, and every answer it got is checked (ajv) against
// the operation and status the document describes. The C++ API tests hold
// every one of their responses to the document too
// (tests/support/openapi_check.h).
//
// Run through CTest (openapi_e2e), or by hand:
//   CERTGATE_BINARY=build/src/cli/certgate node --test tests/e2e/openapi.test.js
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {after, before, test} from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv2020 from 'ajv/dist/2020.js';
import ngrokApi from '@ngrok/ngrok-api';
import {makeChain} from './pki.js';
import {startCertgate, startChallTestSrv, stop, tempDir} from './peers.js';

const {Ngrok} = ngrokApi;
const BINARY = process.env.CERTGATE_BINARY ?? 'build/src/cli/certgate';
const DOCUMENT = path.resolve(path.dirname(fileURLToPath(import.meta.url)),
                              '../../docs/openapi.yaml');
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

test('docs/openapi.yaml is a valid OpenAPI 3.1 document', async () => {
  // Checks the document against the OpenAPI 3.1 schema and resolves every $ref.
  const api = await SwaggerParser.validate(DOCUMENT);
  assert.equal(api.openapi, '3.1.0');

  const ids = new Set();
  for (const [route, item] of Object.entries(api.paths)) {
    const declared = new Set((item.parameters ?? []).filter((p) => p.in === 'path')
      .map((p) => p.name));
    for (const method of METHODS.filter((m) => item[m])) {
      const op = item[method];
      assert.ok(op.operationId, `${method} ${route} has no operationId`);
      assert.ok(!ids.has(op.operationId), `operationId ${op.operationId} twice`);
      ids.add(op.operationId);
      const params = new Set([...declared, ...(op.parameters ?? []).filter((p) => p.in === 'path')
        .map((p) => p.name)]);
      for (const [, name] of route.matchAll(/\{([^}]+)\}/g)) {
        assert.ok(params.has(name), `${method} ${route} does not declare its parameter ${name}`);
      }
      for (const [status, response] of Object.entries(op.responses)) {
        for (const [type, media] of Object.entries(response.content ?? {})) {
          if (type === 'application/json') {
            assert.ok(media.schema, `${method} ${route} ${status}: JSON without a schema`);
          }
        }
      }
    }
  }
  // Every resource of docs/api.md, and the operators' paths.
  for (const route of ['/tls_certificates', '/tls_certificates/{id}', '/tls_certificates/{id}/chain',
                       '/reserved_domains', '/reserved_domains/{id}',
                       '/reserved_domains/{id}/certificate',
                       '/reserved_domains/{id}/certificate_management_policy',
                       '/reserved_domains/{id}/dns_records', '/endpoints', '/endpoints/{id}',
                       '/healthz', '/readyz', '/metrics', '/', '/assets/{file}']) {
    assert.ok(api.paths[route], `${route} is not described`);
  }
});

// ---------------------------------------------------------------------------
// A real certgate, spoken to by ngrok's client through a recording proxy.

let dns;
let certgate;
let proxy;
let ngrok;
const exchanges = [];

// Forwards every request to certgate unchanged and keeps a copy of each
// answer: {method, target, status, contentType, headers, body}.
function startRecordingProxy(upstream) {
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const headers = {...req.headers};
    for (const name of ['host', 'connection', 'content-length', 'transfer-encoding', 'expect']) {
      delete headers[name];
    }
    const answer = await fetch(`${upstream}${req.url}`, {
      method: req.method, headers,
      body: ['GET', 'HEAD'].includes(req.method) ? undefined : Buffer.concat(chunks),
    });
    const body = await answer.text();
    exchanges.push({method: req.method, target: req.url, status: answer.status,
                    headers: answer.headers, body});
    const out = {};
    answer.headers.forEach((value, name) => {
      if (!['content-length', 'content-encoding', 'transfer-encoding', 'connection'].includes(name)) {
        out[name] = value;
      }
    });
    res.writeHead(answer.status, out);
    res.end(body);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({server, url: `http://127.0.0.1:${server.address().port}`});
    });
  });
}

before(async () => {
  dns = await startChallTestSrv();
  certgate = await startCertgate({binary: BINARY, resolver: dns.dnsAddress});
  proxy = await startRecordingProxy(certgate.api);
  ngrok = new Ngrok({apiToken: certgate.key, baseUrl: proxy.url});
});

after(async () => {
  proxy?.server.close();
  await stop(certgate);
  await stop(dns);
  certgate?.cleanup();
});

// The promise's rejection (ngrok's client rejects with a plain object).
async function settle(promise) {
  try {
    return await promise;
  } catch (e) {
    return e;
  }
}

// The response the document describes for one exchange, as
// tests/support/openapi_check.cc finds it: the path (concrete segments over
// templates), the method (or the x-certgate extensions), the status.
function describedResponse(api, {method, target, status}) {
  let route = target.split('?')[0];
  if (route.length > 1 && route.endsWith('/')) route = route.slice(0, -1);
  const segments = route.split('/').slice(1).filter((s, i, all) => s !== '' || all.length > 1);
  let best = null;
  for (const [key, item] of Object.entries(api.paths)) {
    const parts = key === '/' ? [] : key.split('/').slice(1);
    if (parts.length !== segments.length) continue;
    if (!parts.every((p, i) => /^\{.*\}$/.test(p) || p === segments[i])) continue;
    const literals = parts.filter((p) => !/^\{.*\}$/.test(p)).length;
    if (!best || literals > best.literals) best = {key, item, literals};
  }
  const unmatched = api['x-certgate-unmatched-requests'];
  let responses;
  let what;
  if (!best) {
    responses = unmatched.unknown_path.responses;
    what = `an unknown path ${route}`;
  } else if (best.item[method.toLowerCase()]) {
    responses = best.item[method.toLowerCase()].responses;
    what = `${method} ${best.key}`;
  } else {
    responses = (best.item['x-certgate-other-methods'] ?? unmatched.unknown_method).responses;
    what = `${method} ${best.key} (a method it does not take)`;
  }
  const any = api['x-certgate-any-request'].responses;
  const key = [String(status), `${String(status)[0]}XX`, 'default'];
  const response = key.map((k) => responses[k]).find(Boolean) ?? key.map((k) => any[k]).find(Boolean);
  return {response, what};
}

test('what certgate answers ngrok\'s client matches the document', async () => {
  // Flows of ngrok's client, successes and errors alike.
  const pki = makeChain(tempDir('certgate-openapi-'), {names: ['oa.example.com'], days: 30});
  const cert = await ngrok.tlsCertificates.create({
    certificatePem: pki.chain, privateKeyPem: pki.key, description: 'openapi', metadata: '{}'});
  await ngrok.tlsCertificates.get(cert.id);
  await ngrok.tlsCertificates.list();
  await ngrok.tlsCertificates.update({id: cert.id, description: 'renamed'});
  await settle(ngrok.tlsCertificates.get('cert_0000000000000000000000000000'));

  const managed = await ngrok.reservedDomains.create({domain: 'managed.example.org', region: ''});
  const uploaded = await ngrok.reservedDomains.create({domain: 'oa.example.com', region: 'us',
                                                      certificateId: cert.id});
  await ngrok.reservedDomains.get(managed.id);
  await ngrok.reservedDomains.list();
  await ngrok.reservedDomains.update({id: uploaded.id, metadata: '{"a":1}'});
  await settle(ngrok.reservedDomains.create({domain: 'oa.example.com', region: ''}));  // taken
  await settle(ngrok.reservedDomains.deleteCertificate(managed.id));  // managed: refused
  await settle(ngrok.reservedDomains.update({id: managed.id}));  // nothing to change
  await settle(ngrok.reservedDomains.deleteCertificateManagementPolicy(managed.id));
  await settle(ngrok.reservedDomains.deleteCertificate(uploaded.id));
  await settle(ngrok.tlsCertificates.delete(cert.id));  // 0.11 reads no body from a 204

  const created = await fetch(`${proxy.url}/endpoints`, {
    method: 'POST',
    headers: {Authorization: `Bearer ${certgate.key}`, 'Content-Type': 'application/json'},
    body: JSON.stringify({url: 'https://managed.example.org', upstream_url: 'http://127.0.0.1:9'}),
  });
  assert.equal(created.status, 201);
  const endpoint = await created.json();
  await ngrok.endpoints.list();
  await ngrok.endpoints.get(endpoint.id);
  await settle(ngrok.reservedDomains.delete(managed.id));  // in use by the endpoint

  await settle(new Ngrok({apiToken: 'cg_not-a-real-key', baseUrl: proxy.url}).tlsCertificates.list());
  for (const target of ['/healthz', '/readyz', '/metrics', '/', '/assets/app.js', '/nothing/here']) {
    await fetch(`${proxy.url}${target}`);
  }

  const api = await SwaggerParser.dereference(DOCUMENT);
  const ajv = new Ajv2020({strict: false, validateFormats: false, allErrors: true});
  const problems = [];
  const statuses = new Set();
  for (const exchange of exchanges) {
    const {response, what} = describedResponse(api, exchange);
    const label = `${exchange.method} ${exchange.target} -> ${exchange.status}`;
    statuses.add(exchange.status);
    if (!response) {
      problems.push(`${label}: the status is not described for ${what}`);
      continue;
    }
    for (const [name, header] of Object.entries(response.headers ?? {})) {
      if (header.required && !exchange.headers.has(name)) {
        problems.push(`${label}: the header ${name} is missing`);
      }
    }
    const contentType = (exchange.headers.get('content-type') ?? '').split(';')[0].trim();
    const content = response.content ?? {};
    if (Object.keys(content).length === 0) {
      if (exchange.body !== '') problems.push(`${label}: a body where none is described`);
      continue;
    }
    const media = Object.entries(content).find(([type]) => type.split(';')[0].trim() === contentType);
    if (!media) {
      problems.push(`${label}: Content-Type ${contentType} is not described for ${what}`);
      continue;
    }
    if (contentType !== 'application/json' || !media[1].schema) continue;
    const validate = ajv.compile(media[1].schema);
    if (!validate(JSON.parse(exchange.body))) {
      problems.push(`${label} (${what}): ${ajv.errorsText(validate.errors)}\n  ${exchange.body}`);
    }
  }
  assert.deepEqual(problems, []);
  assert.ok(exchanges.length >= 25, `only ${exchanges.length} exchanges`);
  for (const status of [200, 201, 204, 400, 403, 404]) {
    assert.ok(statuses.has(status), `no ${status} among the answers checked`);
  }
});
