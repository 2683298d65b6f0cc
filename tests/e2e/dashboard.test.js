// The dashboard end to end: Debian's chromium, driven by playwright-core,
// against a real `certgate serve` whose resolver is pebble-challtestsrv.
// Saves a desktop and a phone screenshot of each page under
// $CERTGATE_SCREENSHOT_DIR (the build directory's e2e-screenshots/).
//
// Run through CTest (dashboard_e2e), or by hand:
//   CERTGATE_BINARY=build/src/cli/certgate node --test tests/e2e/dashboard.test.js
import assert from 'node:assert/strict';
import {mkdirSync} from 'node:fs';
import path from 'node:path';
import {after, before, describe, test} from 'node:test';
import {chromium} from 'playwright-core';
import {makeChain} from './pki.js';
import {startCertgate, startChallTestSrv, stop, tempDir} from './peers.js';

const BINARY = process.env.CERTGATE_BINARY ?? 'build/src/cli/certgate';
const SHOTS = process.env.CERTGATE_SCREENSHOT_DIR ?? 'build/e2e-screenshots';
const CHROMIUM = process.env.CERTGATE_CHROMIUM ?? '/usr/bin/chromium';
const DESKTOP = {width: 1280, height: 860};
const PHONE = {width: 375, height: 812};
const DAY_MS = 86400000;

let dns;
let certgate;
let browser;
let page;
let pki;
const pageErrors = [];

// The API, called directly: to set up state and to learn what the dashboard
// should show.
async function api(method, p, body) {
  const res = await fetch(certgate.api + p, {
    method,
    headers: {Authorization: `Bearer ${certgate.key}`, 'Content-Type': 'application/json'},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return {status: res.status, body: text ? JSON.parse(text) : null};
}

// Screenshots of the current page at desktop and phone width; at phone
// width nothing may stick out sideways.
async function shoot(name) {
  await page.screenshot({path: path.join(SHOTS, `${name}-desktop.png`), fullPage: true});
  await page.setViewportSize(PHONE);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
  await page.screenshot({path: path.join(SHOTS, `${name}-phone.png`), fullPage: true});
  await page.setViewportSize(DESKTOP);
  assert.ok(overflow <= PHONE.width, `${name}: the page is ${overflow}px wide at ${PHONE.width}px`);
}

// Polls fn until it answers something truthy, for at most timeoutMs.
async function until(what, fn, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${what}`);
    await new Promise((resolve) => { setTimeout(resolve, 100); });
  }
}

// Waits until the page's details list says `text` for `label` (a domain's
// page shows the domain anew after each edit).
async function waitForFact(label, text) {
  await page.waitForFunction(([l, t]) => [...document.querySelectorAll('dl.details dt')]
    .some((dt) => dt.textContent === l && dt.nextElementSibling?.textContent === t), [label, text],
  {timeout: 10000});
}

// Uploads a fresh chain for `names` through the API; returns the resource
// and the leaf's notAfter as a Date.
async function upload(names, days) {
  const chain = makeChain(tempDir('certgate-e2e-chain-'), {names, days});
  const r = await api('POST', '/tls_certificates', {certificate_pem: chain.chain, private_key_pem: chain.key});
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return {...r.body, notAfter: chain.notAfter};
}

// Opens a page afresh (a goto to the current URL would only change nothing).
async function goto(hash) {
  const url = `${certgate.api}/${hash}`;
  if (page.url() === url) await page.reload();
  else await page.goto(url);
}

before(async () => {
  mkdirSync(SHOTS, {recursive: true});
  pki = makeChain(tempDir('certgate-e2e-pki-'), {names: ['shop.example.com', 'www.shop.example.com'], days: 10});
  dns = await startChallTestSrv();
  certgate = await startCertgate({binary: BINARY, resolver: dns.dnsAddress});
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const context = await browser.newContext({viewport: DESKTOP});
  page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(`page error: ${e.message}`));
  // The API's own 4xx answers are expected (the tests provoke them) and
  // chromium logs each; a dashboard file that fails to load is not.
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) {
      pageErrors.push(`console error: ${m.text()}`);
    }
  });
  page.on('response', (r) => {
    const {pathname} = new URL(r.url());
    if ((pathname === '/' || pathname.startsWith('/assets/')) && r.status() >= 400) {
      pageErrors.push(`HTTP ${r.status()} for ${pathname}`);
    }
  });
});

after(async () => {
  await browser?.close();
  await stop(certgate);
  await stop(dns);
  certgate?.cleanup();
});

describe('dashboard', () => {
  test('the files are served with a strict content security policy', async () => {
    const res = await fetch(`${certgate.api}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/html/);
    assert.match(res.headers.get('content-security-policy'), /script-src 'self'/);
    const js = await fetch(`${certgate.api}/assets/app.js`);
    assert.match(js.headers.get('content-type'), /^text\/javascript/);
    assert.equal((await fetch(`${certgate.api}/assets/nope.js`)).status, 404);
  });

  test('signing in: a wrong key is refused in plain words, the right one opens the overview', async () => {
    await goto('');
    await shoot('sign-in');
    await page.getByLabel('API key').fill('cg_not_a_real_key');
    await page.getByRole('button', {name: 'Sign in'}).click();
    await page.getByText('That API key is not valid.').waitFor();
    await page.getByLabel('API key').fill(certgate.key);
    await page.getByRole('button', {name: 'Sign in'}).click();
    await page.getByRole('heading', {name: 'Overview', level: 1}).waitFor();
    await page.getByText('No certificates yet.').waitFor();
    await page.getByText('No renewal is failing.').waitFor();
    assert.equal(await page.locator('#nav a[aria-current="page"]').textContent(), 'Overview');
    await shoot('overview-empty');
    await page.locator('#nav').getByRole('link', {name: 'Certificates'}).click();
    await page.getByRole('heading', {name: 'Certificates', level: 1}).waitFor();
    await page.getByText('No certificates yet').waitFor();
    await shoot('certificates-empty');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('certgate.api_key')), certgate.key);
  });

  test('an uploaded chain is listed with its expiry, highlighted under 21 days', async () => {
    await page.getByRole('link', {name: 'Upload a certificate'}).click();
    await page.getByLabel('Certificate chain (PEM)').fill(pki.chain);
    await page.getByLabel('Private key (PEM)').fill(pki.key);
    await page.getByLabel('Description (optional)').fill('shop, uploaded by the e2e test');
    await page.getByRole('button', {name: 'Upload', exact: true}).click();
    await page.getByText('Uploaded the certificate for shop.example.com').waitFor();
    const row = page.getByRole('row').filter({hasText: 'shop.example.com'});
    await row.waitFor();
    const days = Math.floor((pki.notAfter.getTime() - Date.now()) / DAY_MS);
    const expires = row.locator('td[data-label="Expires"]');
    assert.equal(await expires.locator('.date').textContent(), pki.notAfter.toISOString().slice(0, 10));
    assert.equal(await expires.locator('.badge').textContent(), `${days} days left`);
    assert.match(await expires.locator('.expiry').getAttribute('class'), /\bsoon\b/);
    assert.equal(await row.locator('td[data-label="Source"]').textContent(), 'Uploaded');
    assert.equal(await row.locator('td[data-label="Issuer"]').textContent(), 'certgate e2e CA');
    assert.equal(await row.locator('td[data-label="Key"]').textContent(), 'ECDSA');
    // The filter box narrows the table.
    await page.getByLabel('Filter').fill('e2e CA');
    assert.equal(await page.locator('table.data tbody tr').count(), 1);
    await page.getByLabel('Filter').fill('');
    await shoot('certificates');
  });

  test("a key that does not match shows the API's message next to the key field", async () => {
    const expected = await api('POST', '/tls_certificates',
      {certificate_pem: pki.chain, private_key_pem: pki.otherKey});
    assert.equal(expected.status, 400);
    assert.equal(expected.body.error_code, 'ERR_CERTGATE_258');
    // The dashboard puts the message next to the field the API names.
    assert.equal(expected.body.details.field, 'private_key_pem');
    await page.getByRole('link', {name: 'Upload a certificate'}).click();
    // This time the chain comes from a chosen file.
    await page.getByLabel('…or choose a certificate chain file').setInputFiles(pki.leafFile);
    await page.getByLabel('Private key (PEM)').fill(pki.otherKey);
    await page.getByRole('button', {name: 'Upload', exact: true}).click();
    const keyField = page.locator('[data-field="private_key_pem"]');
    const message = keyField.locator('.field-error');
    await message.waitFor();
    assert.equal(await message.textContent(), expected.body.msg);
    assert.equal(await keyField.locator('textarea').getAttribute('aria-invalid'), 'true');
    assert.ok(!(await page.locator('main').textContent()).includes('"error_code"'));
    await shoot('upload-error');
  });

  test('the detail view shows every field and the chain', async () => {
    await goto('#/certificates');
    await page.getByRole('link', {name: 'shop.example.com', exact: true}).click();
    await page.getByRole('heading', {name: 'Chain'}).waitFor();
    const chain = page.locator('ol.chain > li');
    assert.equal(await chain.count(), 2);
    assert.match(await chain.nth(0).textContent(), /CN=shop\.example\.com/);
    assert.match(await chain.nth(1).textContent(), /CN=certgate e2e CA/);
    assert.match(await chain.nth(0).textContent(), /([0-9a-f]{2}:){31}[0-9a-f]{2}/);
    const details = await page.locator('dl.details').first().textContent();
    assert.match(details, /www\.shop\.example\.com/);
    assert.match(details, /server_auth/);
    await page.getByLabel('Description', {exact: true}).fill('edited in the dashboard');
    await page.getByRole('button', {name: 'Save'}).click();
    await page.getByText('Saved.').waitFor();
    const list = await api('GET', '/tls_certificates');
    const shop = list.body.tls_certificates.find((c) => c.subject_common_name === 'shop.example.com');
    assert.equal(shop.description, 'edited in the dashboard');
    await shoot('certificate-detail');
  });

  test("the table sorts by a column and pages through the API's pages", async () => {
    // 25 more certificates: with the shop's, one more than a page holds.
    const bulk = makeChain(tempDir('certgate-e2e-bulk-'), {names: ['bulk.example.com'], days: 60});
    const ids = [];
    for (let i = 0; i < 25; i += 1) {
      const r = await api('POST', '/tls_certificates', {certificate_pem: bulk.chain, private_key_pem: bulk.key});
      assert.equal(r.status, 201);
      ids.push(r.body.id);
    }
    await goto('#/certificates');
    const rows = page.locator('table.data tbody tr');
    await page.getByText('25 on this page').waitFor();
    // Newest first, as the API lists them: the shop's certificate is on page 2.
    assert.equal(await page.getByRole('link', {name: 'shop.example.com', exact: true}).count(), 0);
    // A double click moves one page: the button waits while the page loads.
    await page.getByRole('button', {name: 'Next page →'}).dblclick();
    await page.getByText('Page 2').waitFor();
    await page.getByRole('link', {name: 'shop.example.com', exact: true}).waitFor();
    assert.equal(await rows.count(), 1);
    assert.ok(await page.getByRole('button', {name: 'Next page →'}).isDisabled());
    await page.getByRole('button', {name: '← Previous page'}).click();
    await page.getByText('Page 1').waitFor();
    await page.getByText('25 on this page').waitFor();

    // Sorting by expiry, with one nearer expiry among them.
    const near = makeChain(tempDir('certgate-e2e-near-'), {names: ['near.example.com'], days: 5});
    const r = await api('POST', '/tls_certificates', {certificate_pem: near.chain, private_key_pem: near.key});
    assert.equal(r.status, 201);
    ids.push(r.body.id);
    await goto('#/certificates');
    await page.getByRole('link', {name: 'near.example.com', exact: true}).waitFor();
    const header = page.getByRole('columnheader', {name: /Expires/});
    await header.getByRole('button').click();
    assert.equal(await header.getAttribute('aria-sort'), 'ascending');
    // The keyboard stays on the column's button, so Enter sorts it again.
    assert.match(await page.evaluate(() => document.activeElement?.closest('th')?.textContent ?? ''),
                 /Expires/);
    assert.equal(await rows.first().locator('td[data-label="Common name"]').textContent(), 'near.example.com');
    await header.getByRole('button').click();
    assert.equal(await header.getAttribute('aria-sort'), 'descending');
    assert.equal(await rows.last().locator('td[data-label="Common name"]').textContent(), 'near.example.com');

    for (const id of ids) assert.equal((await api('DELETE', `/tls_certificates/${id}`)).status, 204);
  });

  test('an automatic domain shows its DNS records, whether certgate sees them, and its status', async () => {
    await goto('#/domains');
    await page.getByText('No domains yet').waitFor();
    await shoot('domains-empty');
    await page.getByRole('link', {name: 'Add a domain'}).click();
    await page.getByLabel('Domain name').fill('*.example.org');
    await page.getByLabel('Key type').selectOption('rsa');
    await page.getByRole('button', {name: 'Add domain'}).click();
    await page.getByRole('heading', {name: '*.example.org', level: 1}).waitFor();

    const list = await api('GET', '/reserved_domains');
    const domain = list.body.reserved_domains.find((d) => d.domain === '*.example.org');
    assert.deepEqual(domain.certificate_management_policy, {authority: 'letsencrypt', private_key_type: 'rsa'});
    const rows = page.locator('table.records tbody tr');
    await rows.first().waitFor();
    assert.equal(await rows.count(), 2);
    const records = await rows.evaluateAll((trs) => trs.map((tr) => ({
      name: tr.querySelector('[data-label="Name"] code').textContent,
      value: tr.querySelector('[data-label="Value"] code').textContent,
      seen: tr.querySelector('[data-label="Seen by certgate"] .badge').textContent,
    })));
    assert.deepEqual(records, [
      {name: '*.example.org', value: domain.cname_target, seen: 'missing'},
      {name: '_acme-challenge.example.org', value: domain.acme_challenge_cname_target, seen: 'missing'},
    ]);
    assert.equal(await page.getByRole('button', {name: /^Copy the (name|value)/}).count(), 4);

    // certgate's own job waits for the records too, and says so.
    await page.locator('.state-msg.problem').filter({hasText: 'DNS_ERROR'}).waitFor({timeout: 20000});

    // The user creates the challenge record; certgate sees it on the next check.
    await dns.setCname('_acme-challenge.example.org', domain.acme_challenge_cname_target);
    await page.getByRole('button', {name: 'Check again'}).click();
    await page.locator('table.records tbody tr').nth(1).locator('.badge', {hasText: 'in place'}).waitFor();
    await shoot('domain-detail');

    await goto('#/domains');
    const row = page.getByRole('row').filter({hasText: '*.example.org'});
    await row.waitFor();
    assert.equal(await row.locator('td[data-label="Management"]').textContent(), 'Automatic (RSA)');
    await row.locator('td[data-label="Provisioning"] .badge').waitFor();
    await shoot('domains');

    // The list refreshes while the job runs; the keyboard stays on its link.
    await row.getByRole('link', {name: '*.example.org'}).focus();
    await row.evaluate((tr) => { tr.dataset.before = 'refresh'; });
    await page.waitForFunction(() => !document.querySelector('tr[data-before]'), null,
      {timeout: 10000});
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), '*.example.org');
  });

  test('a domain name the API refuses gets its message next to the name', async () => {
    await goto('#/domains');
    await page.getByRole('link', {name: 'Add a domain'}).click();
    await page.getByLabel('Domain name').fill('a.*.example.org');
    await page.getByRole('button', {name: 'Add domain'}).click();
    const message = page.locator('[data-field="domain"] .field-error');
    await message.waitFor();
    assert.match(await message.textContent(), /leftmost label/);
  });

  test("editing a domain each way, with the API's own message where it refuses", async () => {
    const own = await upload(['edit.example.com'], 90);
    const elsewhere = await upload(['elsewhere.example.com'], 90);
    const created = await api('POST', '/reserved_domains', {domain: 'edit.example.com', certificate_id: own.id});
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id;
    const state = async () => (await api('GET', `/reserved_domains/${id}`)).body;
    const panel = page.getByRole('region', {name: 'Certificate management'});
    const choice = panel.getByLabel('Certificate', {exact: true});
    const dialog = page.getByRole('dialog');

    // A certificate that does not cover the domain: the choice says so, and
    // the API's refusal shows next to it.
    const refused = await api('PATCH', `/reserved_domains/${id}`, {certificate_id: elsewhere.id});
    assert.equal(refused.status, 400);
    assert.equal(refused.body.details.field, 'certificate_id');
    await goto(`#/domains/${id}`);
    await waitForFact('Management', 'Uploaded certificate');
    await panel.locator(`option[value="${elsewhere.id}"]`).waitFor({state: 'attached'});
    assert.equal(await choice.inputValue(), own.id);
    assert.match(await panel.locator(`option[value="${own.id}"]`).textContent(),
                 new RegExp(`^edit\\.example\\.com: edit\\.example\\.com; expires ${own.not_after.slice(0, 10)}$`));
    assert.match(await panel.locator(`option[value="${elsewhere.id}"]`).textContent(),
                 /\(does not cover edit\.example\.com\)$/);
    await choice.selectOption(elsewhere.id);
    assert.match(await panel.locator('.cert-preview').textContent(), /certgate will refuse it/);
    await panel.getByRole('button', {name: 'Use this certificate instead'}).click();
    const message = panel.locator('[data-field="certificate_id"] .field-error');
    await message.waitFor();
    assert.equal(await message.textContent(), refused.body.msg);
    assert.equal(await choice.getAttribute('aria-invalid'), 'true');
    assert.equal((await state()).certificate.id, own.id);
    await shoot('domain-edit-refused');

    // Uploaded → automatic, confirmed first: the uploaded certificate goes.
    await panel.getByLabel(/^Automatic/).check();
    assert.equal(await panel.getByLabel('Key type').inputValue(), 'ecdsa');
    await panel.getByRole('button', {name: 'Switch to automatic management'}).click();
    assert.match(await dialog.textContent(), /stops using the certificate edit\.example\.com/);
    await dialog.getByRole('button', {name: 'Switch'}).click();
    await page.getByText('Automatic management is on: certgate obtains a certificate with an ECDSA key.').waitFor();
    await waitForFact('Management', 'Automatic (ECDSA)');
    await waitForFact('Certificate', 'none yet');
    let d = await state();
    assert.deepEqual(d.certificate_management_policy, {authority: 'letsencrypt', private_key_type: 'ecdsa'});
    assert.equal(d.certificate, null);

    // The key type: unchanged, there is nothing to save.
    assert.ok(await panel.getByRole('button', {name: 'Change the key type'}).isDisabled());
    await panel.getByLabel('Key type').selectOption('rsa');
    await panel.getByRole('button', {name: 'Change the key type'}).click();
    await page.getByText('The key type is now RSA: certgate obtains a new certificate with it.').waitFor();
    await waitForFact('Management', 'Automatic (RSA)');
    assert.deepEqual((await state()).certificate_management_policy, {authority: 'letsencrypt', private_key_type: 'rsa'});

    // Automatic → uploaded: the certificate that covers the domain comes first.
    await panel.getByLabel('A certificate I uploaded').check();
    await panel.locator(`option[value="${elsewhere.id}"]`).waitFor({state: 'attached'});
    assert.equal(await choice.inputValue(), own.id);
    await panel.getByRole('button', {name: 'Use this certificate'}).click();
    await page.getByText('edit.example.com uses the certificate edit.example.com; automatic management is off.').waitFor();
    await waitForFact('Management', 'Uploaded certificate');
    d = await state();
    assert.equal(d.certificate.id, own.id);
    assert.equal(d.certificate_management_policy, null);
    assert.equal(d.certificate_management_status, null);
    assert.equal(await page.locator('dl.details a', {hasText: 'edit.example.com'}).getAttribute('href'),
                 `#/certificates/${own.id}`);
    await shoot('domain-edit');

    // Detach, confirmed first.
    await panel.getByRole('button', {name: 'Detach the certificate'}).click();
    assert.match(await dialog.textContent(), /stops serving edit\.example\.com with edit\.example\.com/);
    await dialog.getByRole('button', {name: 'Detach'}).click();
    await page.getByText('Detached the certificate from edit.example.com.').waitFor();
    await waitForFact('Management', 'No certificate');
    assert.equal((await state()).certificate, null);
    assert.equal(await panel.getByRole('button', {name: 'Detach the certificate'}).count(), 0);

    // Automatic again (nothing to replace, so nothing to confirm), then the
    // policy removed, confirmed first.
    assert.ok(await panel.getByLabel(/^Automatic/).isChecked());
    await panel.getByRole('button', {name: 'Switch to automatic management'}).click();
    await waitForFact('Management', 'Automatic (ECDSA)');
    assert.ok((await state()).certificate_management_policy);
    await panel.getByRole('button', {name: 'Turn off automatic management'}).click();
    assert.match(await dialog.textContent(), /stops trying to obtain a certificate/);
    await dialog.getByRole('button', {name: 'Turn off'}).click();
    await page.getByText('Automatic management is off.').waitFor();
    await waitForFact('Management', 'No certificate');
    d = await state();
    assert.equal(d.certificate_management_policy, null);
    assert.equal(d.certificate_management_status, null);

    // The description.
    await page.getByLabel('Description', {exact: true}).fill('edited on its page');
    await page.getByRole('button', {name: 'Save'}).click();
    await page.getByText('Saved.').waitFor();
    await waitForFact('Description', 'edited on its page');
    assert.equal((await state()).description, 'edited on its page');

    // A name under the service's own domain takes neither: nothing offered.
    const own2 = await api('POST', '/reserved_domains', {domain: 'edit.certgate.localhost'});
    assert.equal(own2.status, 201, JSON.stringify(own2.body));
    assert.equal(own2.body.cname_target, null);
    assert.equal((await api('PATCH', `/reserved_domains/${own2.body.id}`,
      {certificate_management_policy: {private_key_type: 'rsa'}})).status, 400);
    await goto(`#/domains/${own2.body.id}`);
    await waitForFact('Management', "The service's certificate");
    await panel.getByText('it takes neither automatic management nor an uploaded certificate').waitFor();
    assert.equal(await panel.getByRole('button').count(), 0);

    for (const p of [`/reserved_domains/${id}`, `/reserved_domains/${own2.body.id}`,
      `/tls_certificates/${own.id}`, `/tls_certificates/${elsewhere.id}`]) {
      assert.equal((await api('DELETE', p)).status, 204, p);
    }
  });

  test('the overview: the soonest expiry first, flagged, and the failing renewals', async () => {
    const soon = await upload(['soon.example.com'], 3);
    const later = await upload(['later.example.com'], 200);
    // A managed domain without its CNAME: its job fails with DNS_ERROR.
    const created = await api('POST', '/reserved_domains', {domain: 'renew.example.net'});
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const failing = await until('the DNS_ERROR of renew.example.net', async () => {
      const d = (await api('GET', `/reserved_domains/${created.body.id}`)).body;
      const job = d.certificate_management_status?.provisioning_job;
      return job?.error_code === 'DNS_ERROR' ? job : null;
    });

    await goto('#/overview');
    const expiring = page.getByRole('region', {name: 'Expiring soonest'});
    const rows = expiring.locator('tbody tr');
    await rows.first().waitFor();
    const first = rows.first();
    const days = Math.floor((soon.notAfter.getTime() - Date.now()) / DAY_MS);
    assert.equal(await first.locator('td[data-label="Certificate"]').textContent(), 'soon.example.com');
    assert.equal(await first.getByRole('link', {name: 'soon.example.com'}).getAttribute('href'),
                 `#/certificates/${soon.id}`);
    assert.equal(await first.locator('.expiry .badge').first().textContent(), `${days} days left`);
    assert.match(await first.locator('.expiry').getAttribute('class'), /\bunder-7\b/);
    assert.equal(await first.locator('.badge.flag').textContent(), 'under 7 days');
    assert.equal(await first.locator('td[data-label="Source"]').textContent(), 'Uploaded');
    // The shop's (10 days) next, then the rest, soonest first.
    assert.equal(await rows.nth(1).locator('td[data-label="Certificate"]').textContent(), 'shop.example.com');
    assert.equal(await rows.nth(1).locator('.badge.flag').textContent(), 'under 14 days');
    const dates = await rows.locator('.expiry .date').allTextContents();
    assert.deepEqual(dates, [...dates].sort());
    assert.equal(dates.at(-1), later.not_after.slice(0, 10));
    assert.equal(await rows.last().locator('.badge.flag').count(), 0);

    const broken = page.getByRole('region', {name: 'Renewals failing'})
      .locator('tbody tr').filter({hasText: 'renew.example.net'});
    await broken.waitFor({timeout: 15000});
    assert.equal(await broken.getByRole('link', {name: 'renew.example.net'}).getAttribute('href'),
                 `#/domains/${created.body.id}`);
    assert.equal(await broken.locator('td[data-label="Problem"] .badge').textContent(), 'DNS_ERROR');
    assert.equal(await broken.locator('td[data-label="Problem"] .state-msg').textContent(), failing.msg);
    assert.match(await broken.locator('td[data-label="Next try"]').textContent(), /\d{4}-\d\d-\d\d \d\d:\d\d UTC/);
    assert.equal(await broken.locator('td[data-label="Current certificate"]').textContent(), 'none yet');

    const certs = (await api('GET', '/tls_certificates')).body.tls_certificates;
    const domains = (await api('GET', '/reserved_domains')).body.reserved_domains;
    const tally = (name) => page.locator('.tally', {hasText: name}).locator('.tally-n').textContent();
    assert.equal(await tally('Certificates'), String(certs.length));
    assert.equal(await tally('Domains'), String(domains.length));
    assert.equal(await tally('Endpoints'), '0');
    // One row per failing domain (*.example.org's records are still missing).
    assert.equal(await tally('Renewals failing'),
                 String(await page.getByRole('region', {name: 'Renewals failing'}).locator('tbody tr').count()));
    await shoot('overview');

    // The failing domain is one click away.
    await broken.getByRole('link', {name: 'renew.example.net'}).click();
    await page.getByRole('heading', {name: 'renew.example.net', level: 1}).waitFor();

    for (const p of [`/reserved_domains/${created.body.id}`, `/tls_certificates/${soon.id}`,
      `/tls_certificates/${later.id}`]) {
      assert.equal((await api('DELETE', p)).status, 204, p);
    }
  });

  test('endpoints: a bad traffic policy is explained; create and delete', async () => {
    const focused = () => page.evaluate(() => document.activeElement?.id ?? '');
    await goto('#/domains');
    await page.locator('#nav').getByRole('link', {name: 'Endpoints'}).click();
    await page.getByText('No endpoints yet').waitFor();
    assert.equal(await focused(), 'main', 'after a navigation the keyboard starts at the page');
    await page.locator('summary', {hasText: 'Create an endpoint'}).click();
    await page.getByLabel('URL').fill('https://app.example.org');
    await page.getByLabel('Upstream').fill('http://127.0.0.1:9');
    await page.getByLabel('Traffic policy (optional, YAML or JSON)').fill(
      'on_tcp_connect:\n  - actions:\n      - type: rate-limit\n');
    await page.getByRole('button', {name: 'Create endpoint'}).click();
    const policyError = page.locator('[data-field="traffic_policy"] .field-error');
    await policyError.waitFor();
    assert.match(await policyError.textContent(), /rate-limit/);
    await page.getByLabel('Traffic policy (optional, YAML or JSON)').fill('');
    await page.getByRole('button', {name: 'Create endpoint'}).click();
    await page.getByText('Created the endpoint https://app.example.org.').waitFor();
    await page.getByRole('cell', {name: 'https://app.example.org', exact: true}).waitFor();
    await shoot('endpoints');
    await page.getByRole('button', {name: 'Delete the endpoint https://app.example.org'}).click();
    await page.getByRole('dialog').getByRole('button', {name: 'Delete'}).click();
    await page.getByText('No endpoints yet').waitFor();
    assert.equal((await api('GET', '/endpoints')).body.endpoints.length, 0);
    assert.equal(await focused(), 'main', 'the deleted row took the focus with it');
  });

  test('deleting the one endpoint of the last page shows the page before it', async () => {
    const domain = await api('POST', '/reserved_domains', {domain: '*.pages.example.net'});
    assert.equal(domain.status, 201, JSON.stringify(domain.body));
    const ids = [];
    for (let i = 0; i < 26; i += 1) {
      const r = await api('POST', '/endpoints',
        {url: `https://e${i}.pages.example.net`, upstream: 'http://127.0.0.1:9'});
      assert.equal(r.status, 201, JSON.stringify(r.body));
      ids.push(r.body.id);
    }
    await goto('#/endpoints');
    await page.getByText('25 on this page').waitFor();
    await page.getByRole('button', {name: 'Next page →'}).click();
    await page.getByText('Page 2').waitFor();
    await page.getByRole('button', {name: 'Delete the endpoint https://e0.pages.example.net'}).click();
    await page.getByRole('dialog').getByRole('button', {name: 'Delete'}).click();
    await page.getByText('Deleted the endpoint https://e0.pages.example.net.').waitFor();
    await page.getByText('25 on this page').waitFor();
    assert.ok(!(await page.getByText('No endpoints yet').isVisible()));
    for (const id of ids.slice(1)) assert.equal((await api('DELETE', `/endpoints/${id}`)).status, 204);
    assert.equal((await api('DELETE', `/reserved_domains/${domain.body.id}`)).status, 204);
  });

  test('deleting a certificate names the domains blocking it, then deletes it', async () => {
    const certs = (await api('GET', '/tls_certificates')).body.tls_certificates;
    const shop = certs.find((c) => c.subject_common_name === 'shop.example.com');
    const attached = await api('POST', '/reserved_domains', {domain: 'shop.example.com', certificate_id: shop.id});
    assert.equal(attached.status, 201);

    await goto(`#/certificates/${shop.id}`);
    await page.getByRole('button', {name: 'Delete certificate'}).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    assert.match(await dialog.textContent(), /These domains use this certificate: shop\.example\.com\./);
    await shoot('delete-confirmation');
    await dialog.getByRole('button', {name: 'Cancel'}).click();
    assert.equal((await api('GET', `/tls_certificates/${shop.id}`)).status, 200);

    assert.equal((await api('DELETE', `/reserved_domains/${attached.body.id}`)).status, 204);
    await goto(`#/certificates/${shop.id}`);
    await page.getByRole('button', {name: 'Delete certificate'}).click();
    assert.match(await page.getByRole('dialog').textContent(), /No domain uses this certificate/);
    await page.getByRole('dialog').getByRole('button', {name: 'Delete'}).click();
    await page.getByText('Deleted the certificate for shop.example.com.').waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'main');
    assert.equal((await api('GET', `/tls_certificates/${shop.id}`)).status, 404);
    assert.equal(await page.getByRole('link', {name: 'shop.example.com', exact: true}).count(), 0);
  });

  test('signing out forgets the key', async () => {
    await page.getByRole('button', {name: 'Sign out'}).click();
    await page.getByLabel('API key').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('certgate.api_key')), null);
  });

  test('no script error or policy violation happened on any page', () => {
    assert.deepEqual(pageErrors, []);
  });
});
