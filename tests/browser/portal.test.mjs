// Browser tests of the webrack portal (www/): Playwright (playwright-core) driving
// Debian's /usr/bin/chromium against a running webrackd.
//
//   WEBRACK_URL=https://127.0.0.1:8443 WEBRACK_ADMIN_USER=admin WEBRACK_ADMIN_PASSWORD=... \
//       node --test tests/browser/
//
// tests/browser/run.sh starts a private stack (PostgreSQL + webrackd) and runs this file.
// Every object gets a unique suffix, so the tests can run repeatedly against one stack.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, request } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BASE = (process.env.WEBRACK_URL || '').replace(/\/+$/, '');
const ADMIN = process.env.WEBRACK_ADMIN_USER;
const ADMIN_PW = process.env.WEBRACK_ADMIN_PASSWORD;
const SHOTS = process.env.WEBRACK_SCREENSHOT_DIR || path.resolve(HERE, '../../var/screenshots');
const CHROMIUM = process.env.WEBRACK_CHROMIUM || '/usr/bin/chromium';
const SFX = Date.now().toString(36) + crypto.randomBytes(2).toString('hex');
const PW = 'Passw0rd-' + SFX;   // password for the users the tests create (>= 10 chars)
const TIMEOUT = 15000;

if (!BASE || !ADMIN || !ADMIN_PW)
	throw new Error('set WEBRACK_URL, WEBRACK_ADMIN_USER and WEBRACK_ADMIN_PASSWORD');

let browser;
let admin;           // API session of the provider admin (own cookie jar)
const shared = {};   // objects created by one test and looked at by a later one

// ---------- helpers ----------

async function apiSession(username, password) {
	const req = await request.newContext({ baseURL: BASE, ignoreHTTPSErrors: true });
	const r = await req.post('/api/v1/login', { data: { username, password } });
	const j = await r.json();
	assert.equal(j.ok, true, `API login of ${username}: ${JSON.stringify(j)}`);
	const csrf = j.result.csrf_token;
	return {
		async call(op, params = {}) {
			const resp = await req.post('/api/v1/' + op,
				{ data: params, headers: { 'X-CSRF-Token': csrf } });
			const body = await resp.json();
			if (!body.ok)
				throw new Error(`${op}: ${body.error.code}: ${body.error.message}`);
			return body.result;
		},
		async dispose() {
			await req.post('/api/v1/logout', { data: {}, headers: { 'X-CSRF-Token': csrf } })
				.catch(() => {});
			await req.dispose();
		},
	};
}

async function newPage() {
	const ctx = await browser.newContext({
		ignoreHTTPSErrors: true,
		viewport: { width: 1280, height: 800 },
	});
	ctx.setDefaultTimeout(TIMEOUT);
	const page = await ctx.newPage();
	page.errors = [];
	page.on('pageerror', (e) => page.errors.push(e.message));
	// a CSP violation or a script error shows up as a console error
	page.on('console', (m) => {
		// (4xx answers are expected in several tests; the page shows them itself)
		if (m.type() === 'error' && !/Failed to load resource: .* status of 4\d\d/.test(m.text()))
			page.errors.push(m.text());
	});
	return page;
}

async function closePage(page) {
	assert.deepEqual(page.errors, [], 'no script errors or CSP violations in the page');
	await page.context().close();
}

async function shot(page, name) {
	fs.mkdirSync(SHOTS, { recursive: true });
	// what a 1280x800 screen shows (the tables grow with every run against one stack)
	await page.screenshot({ path: path.join(SHOTS, name + '.png') });
}

async function login(page, username, password) {
	await page.goto(BASE + '/');
	await page.locator('#login-form').waitFor({ state: 'visible' });
	await page.fill('#login-username', username);
	await page.fill('#login-password', password);
	await page.click('#login-submit');
}

async function loginOk(page, username, password) {
	await login(page, username, password);
	await page.locator('#app-header').waitFor({ state: 'visible' });
	await assertText(page.locator('#hdr-user'), username);
}

async function assertText(locator, expected) {
	// waits until the element contains the text (polling), then checks it once more
	await locator.filter({ hasText: expected }).first().waitFor({ state: 'visible' });
	assert.ok((await locator.first().textContent()).includes(expected));
}

function row(page, table, text) {
	return page.locator(`#${table} tbody tr`).filter({ hasText: text });
}

async function cells(locator) {
	return (await locator.locator('td').allTextContents()).map((s) => s.trim());
}

async function visibleTabs(page) {
	return page.locator('#tabs .tab:visible').allTextContents();
}

// RFC 6238 TOTP (SHA-1, 6 digits, 30 s) for the enrolment tests
function totp(secretBase32, when = Date.now()) {
	const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
	let bits = '';
	for (const ch of secretBase32.replace(/=+$/, '').toUpperCase())
		bits += alphabet.indexOf(ch).toString(2).padStart(5, '0');
	const key = Buffer.alloc(Math.floor(bits.length / 8));
	for (let i = 0; i < key.length; i++)
		key[i] = parseInt(bits.slice(i * 8, i * 8 + 8), 2);
	const counter = Buffer.alloc(8);
	counter.writeBigUInt64BE(BigInt(Math.floor(when / 1000 / 30)));
	const h = crypto.createHmac('sha1', key).update(counter).digest();
	const off = h[h.length - 1] & 0xf;
	const n = (h.readUInt32BE(off) & 0x7fffffff) % 1000000;
	return String(n).padStart(6, '0');
}

// ---------- set-up ----------

before(async () => {
	browser = await chromium.launch({
		executablePath: CHROMIUM,
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
			'--disable-background-networking', '--disable-component-update', '--disable-sync'],
	});
	admin = await apiSession(ADMIN, ADMIN_PW);
	shared.me = await admin.call('whoami');
});

after(async () => {
	if (admin)
		await admin.dispose();
	if (browser)
		await browser.close();
});

// ---------- tests ----------

test('login through the form shows the header, tabs and survives a reload', async () => {
	const page = await newPage();
	await page.goto(BASE + '/');
	await page.locator('#login-form').waitFor({ state: 'visible' });
	assert.equal(await page.locator('#app-header').isVisible(), false);
	await shot(page, '01-login');

	await loginOk(page, ADMIN, ADMIN_PW);
	await assertText(page.locator('#hdr-account'), shared.me.account.name);
	assert.equal(await page.locator('#logout-btn').isVisible(), true);
	assert.deepEqual(await visibleTabs(page),
		['vServers', 'Accounts', 'Users', 'Job log', 'Audit', 'API tokens', 'Security']);
	assert.equal(await page.locator('#login-view').isVisible(), false);
	await page.locator('#vserver-form').waitFor({ state: 'visible' });
	await shot(page, '02-after-login');

	await page.reload();
	await page.locator('#app-header').waitFor({ state: 'visible' });
	await assertText(page.locator('#hdr-user'), ADMIN);
	await closePage(page);
});

test('create a customer account and a vServer through the forms', async () => {
	const page = await newPage();
	await loginOk(page, ADMIN, ADMIN_PW);

	const accName = 'Customer ' + SFX;
	await page.click('#tab-accounts');
	await page.locator('#account-form').waitFor({ state: 'visible' });
	await page.selectOption('#acc-parent', String(shared.me.account.id));
	await page.fill('#acc-name', accName);
	await page.selectOption('#acc-type', 'customer');
	await page.fill('#acc-cores', '8');
	await page.fill('#acc-ram', '16384');
	await page.fill('#acc-vservers', '5');
	await page.click('#acc-submit');

	const accRow = row(page, 'account-table', accName);
	await accRow.waitFor({ state: 'visible' });
	const ac = await cells(accRow);
	assert.equal(ac[0], accName);
	assert.equal(ac[1], 'customer');
	assert.equal(ac[2], '8');
	assert.equal(ac[3], '16 GB');
	assert.equal(ac[4], '\u221e');
	assert.equal(ac[5], '5');
	// indented below its parent
	const pad = await accRow.locator('.tree-name').evaluate((e) => parseFloat(getComputedStyle(e).paddingLeft));
	assert.ok(pad > 0, 'child account is indented');
	shared.accountId = Number(await accRow.getAttribute('data-id'));
	shared.accountName = accName;
	assert.ok(shared.accountId > 0);
	assert.equal(await page.locator('#error-bar').isVisible(), false);
	await shot(page, '03-accounts');

	const vsName = 'vs-' + SFX;
	await page.click('#tab-vservers');
	await page.locator('#vserver-form').waitFor({ state: 'visible' });
	await page.selectOption('#vs-account', String(shared.accountId));
	await page.fill('#vs-name', vsName);
	await page.fill('#vs-cores', '2');
	await page.fill('#vs-ram', '2048');
	await page.fill('#vs-disk', '20');
	await page.click('#vs-submit');

	const vsRow = row(page, 'vserver-table', vsName);
	await vsRow.waitFor({ state: 'visible' });
	const vc = await cells(vsRow);
	assert.deepEqual(vc.slice(0, 6), [vsName, accName, '2', '2 GB', '20 GB', 'defined']);
	shared.vserverName = vsName;
	await shot(page, '04-vservers');

	// a quota violation is refused by the server and shown in the error bar
	await page.fill('#vs-name', 'big-' + SFX);
	await page.fill('#vs-cores', '64');
	await page.click('#vs-submit');
	await page.locator('#error-bar').waitFor({ state: 'visible' });
	assert.match(await page.locator('#error-text').textContent(), /quota/i);
	assert.equal(await row(page, 'vserver-table', 'big-' + SFX).count(), 0);
	await shot(page, '05-quota-error');
	await closePage(page);
});

test('the job log shows the account-create task, done, with the admin name', async () => {
	if (!shared.accountName) {   // the previous test failed: make one through the API
		shared.accountName = 'Customer ' + SFX;
		shared.accountId = (await admin.call('account-create',
			{ parent_id: shared.me.account.id, name: shared.accountName, type: 'customer' })).id;
	}
	const page = await newPage();
	await loginOk(page, ADMIN, ADMIN_PW);
	await page.click('#tab-tasks');
	const r = page.locator('#task-table tbody tr')
		.filter({ hasText: shared.accountName }).filter({ hasText: 'account-create' });
	await r.first().waitFor({ state: 'visible' });
	const c = await cells(r.first());
	// Type, Name, Action (user), Start, End, Status, Info
	assert.equal(c[0], 'account');
	assert.equal(c[1], shared.accountName);
	assert.equal(c[2], `account-create (${ADMIN})`);
	assert.match(c[3], /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
	assert.match(c[4], /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
	assert.equal(c[5], 'done');
	const headers = (await page.locator('#task-table thead th').allTextContents()).map((s) => s.trim());
	assert.deepEqual(headers, ['Type', 'Name', 'Action (user)', 'Start', 'End', 'Status', 'Info']);
	await shot(page, '06-job-log');

	await page.click('#tab-audit');
	await page.locator('#audit-table tbody tr').first().waitFor({ state: 'visible' });
	assert.ok(await row(page, 'audit-table', 'account-create').count() > 0);
	await shot(page, '07-audit');
	await closePage(page);
});

test('a wrong password shows the server message in the error bar', async () => {
	const page = await newPage();
	await page.goto(BASE + '/');
	await page.locator('#login-form').waitFor({ state: 'visible' });
	await page.fill('#login-username', ADMIN);
	await page.fill('#login-password', 'not-the-password-' + SFX);
	const [resp] = await Promise.all([
		page.waitForResponse((r) => r.url().endsWith('/api/v1/login')),
		page.click('#login-submit'),
	]);
	assert.equal(resp.status(), 401);
	const body = await resp.json();
	assert.equal(body.ok, false);
	const bar = page.locator('#error-bar');
	await bar.waitFor({ state: 'visible' });
	assert.equal(await bar.getAttribute('role'), 'alert');
	assert.equal((await page.locator('#error-text').textContent()).trim(), body.error.message);
	assert.equal(await page.locator('#login-form').isVisible(), true);
	assert.equal(await page.locator('#app-header').isVisible(), false);
	await shot(page, '08-wrong-password');
	await closePage(page);
});

test('logout returns to the login form and a reload stays logged out', async () => {
	const page = await newPage();
	await loginOk(page, ADMIN, ADMIN_PW);
	const [resp] = await Promise.all([
		page.waitForResponse((r) => r.url().endsWith('/api/v1/logout')),
		page.click('#logout-btn'),
	]);
	assert.equal(resp.status(), 200);
	await page.locator('#login-form').waitFor({ state: 'visible' });
	assert.equal(await page.locator('#app-header').isVisible(), false);
	assert.equal(await page.locator('#app-view').isVisible(), false);

	await page.reload();
	await page.locator('#login-form').waitFor({ state: 'visible' });
	assert.equal(await page.locator('#app-header').isVisible(), false);
	// the old cookie is dead on the server too
	const st = await page.evaluate(async () =>
		(await fetch('/api/v1/whoami', { method: 'POST', credentials: 'same-origin',
			headers: { 'Content-Type': 'application/json' }, body: '{}' })).status);
	assert.equal(st, 401);
	await shot(page, '09-after-logout');
	await closePage(page);
});

test('a customer sees only its own tenant and no Audit tab without audit.view', async () => {
	const a = await admin.call('account-create',
		{ parent_id: shared.me.account.id, name: 'Tenant A ' + SFX, type: 'customer' });
	const b = await admin.call('account-create',
		{ parent_id: shared.me.account.id, name: 'Tenant B ' + SFX, type: 'customer' });
	await admin.call('vserver-create',
		{ account_id: a.id, name: 'a-web-' + SFX, cores: 1, ram_mb: 512, disk_gb: 5 });
	await admin.call('vserver-create',
		{ account_id: b.id, name: 'b-web-' + SFX, cores: 1, ram_mb: 512, disk_gb: 5 });
	await admin.call('user-create', { account_id: a.id, username: 'a-oper-' + SFX,
		password: PW, role: 'operator', display_name: 'Anna Operator' });
	await admin.call('user-create', { account_id: a.id, username: 'a-user-' + SFX,
		password: PW, role: 'user' });

	// operator: account.view and vserver.edit, but no audit.view and no user.manage
	let page = await newPage();
	await loginOk(page, 'a-oper-' + SFX, PW);
	await assertText(page.locator('#hdr-account'), a.name);
	assert.deepEqual(await visibleTabs(page),
		['vServers', 'Accounts', 'Users', 'Job log', 'API tokens', 'Security']);
	assert.equal(await page.locator('#tab-audit').isVisible(), false);

	await row(page, 'vserver-table', 'a-web-' + SFX).waitFor({ state: 'visible' });
	assert.equal(await row(page, 'vserver-table', 'b-web-' + SFX).count(), 0);
	assert.equal(await page.locator('#vserver-form').isVisible(), true);
	await shot(page, '10-customer-vservers');

	await page.click('#tab-accounts');
	await row(page, 'account-table', a.name).waitFor({ state: 'visible' });
	const names = (await page.locator('#account-table tbody tr td:first-child').allTextContents())
		.map((s) => s.trim());
	assert.deepEqual(names, [a.name]);
	assert.equal(await page.locator('#account-form').isVisible(), false);
	await shot(page, '11-customer-accounts');

	await page.click('#tab-users');
	await page.locator('#user-table tbody tr').first().waitFor({ state: 'visible' });
	assert.equal(await page.locator('#user-form').isVisible(), false);
	const userAccounts = (await page.locator('#user-table tbody tr td:nth-child(4)').allTextContents())
		.map((s) => s.trim());
	assert.ok(userAccounts.length >= 2);
	assert.ok(userAccounts.every((n) => n === a.name), 'only users of the own account: ' + userAccounts);

	await page.click('#tab-tasks');
	await page.locator('#task-table tbody tr').first().waitFor({ state: 'visible' });
	assert.equal(await row(page, 'task-table', 'b-web-' + SFX).count(), 0);
	assert.equal(await row(page, 'task-table', 'Tenant B ' + SFX).count(), 0);
	await closePage(page);

	// plain user role: no account.view either, so no Accounts tab
	page = await newPage();
	await loginOk(page, 'a-user-' + SFX, PW);
	assert.deepEqual(await visibleTabs(page), ['vServers', 'Job log', 'API tokens', 'Security']);
	await row(page, 'vserver-table', 'a-web-' + SFX).waitFor({ state: 'visible' });
	assert.equal(await row(page, 'vserver-table', 'b-web-' + SFX).count(), 0);
	assert.equal(await page.locator('#vserver-form').isVisible(), false);
	await shot(page, '12-customer-user');
	await closePage(page);
});

test('a user created through the Users form can log in', async () => {
	const page = await newPage();
	await loginOk(page, ADMIN, ADMIN_PW);
	if (!shared.accountId)
		shared.accountId = (await admin.call('account-create',
			{ parent_id: shared.me.account.id, name: 'Customer ' + SFX, type: 'customer' })).id;
	await page.click('#tab-users');
	await page.locator('#user-form').waitFor({ state: 'visible' });
	await page.selectOption('#usr-account', String(shared.accountId));
	await page.fill('#usr-username', 'c-admin-' + SFX);
	await page.fill('#usr-password', PW);
	await page.fill('#usr-display', 'Carla Admin');
	await page.fill('#usr-email', `c-admin-${SFX}@example.net`);
	await page.selectOption('#usr-role', 'admin');
	await page.click('#usr-submit');
	await row(page, 'user-table', 'c-admin-' + SFX).waitFor({ state: 'visible' });
	await shot(page, '13-users');
	await page.click('#logout-btn');
	await page.locator('#login-form').waitFor({ state: 'visible' });

	// a customer admin has audit.view: the Audit tab is there, the account form is not
	await loginOk(page, 'c-admin-' + SFX, PW);
	await assertText(page.locator('#hdr-user'), 'Carla Admin');
	assert.ok((await visibleTabs(page)).includes('Audit'));
	await page.click('#tab-accounts');
	await page.locator('#account-table tbody tr').first().waitFor({ state: 'visible' });
	assert.equal(await page.locator('#account-table tbody tr').count(), 1);
	assert.equal(await page.locator('#account-form').isVisible(), false);
	await closePage(page);
});

test('data is rendered as text, never as HTML', async () => {
	const evil = `<img src=x id=xss-${SFX}>`;
	await admin.call('account-create',
		{ parent_id: shared.me.account.id, name: evil, type: 'customer' });
	const page = await newPage();
	await loginOk(page, ADMIN, ADMIN_PW);
	await page.click('#tab-accounts');
	await row(page, 'account-table', evil).waitFor({ state: 'visible' });
	assert.equal(await page.locator(`#xss-${SFX}`).count(), 0);
	await closePage(page);
});

test('API tokens: create shows the secret once, revoke removes it', async () => {
	const page = await newPage();
	await loginOk(page, ADMIN, ADMIN_PW);
	await page.click('#tab-tokens');
	await page.fill('#tok-name', 'script-' + SFX);
	await page.fill('#tok-days', '7');
	await page.selectOption('#tok-privs', ['vserver.view', 'task.view']);
	await page.click('#tok-submit');
	await page.locator('#token-secret-box').waitFor({ state: 'visible' });
	const secret = (await page.locator('#token-secret').textContent()).trim();
	assert.ok(secret.length >= 20, 'a secret is shown');
	const r = row(page, 'token-table', 'script-' + SFX);
	await r.waitFor({ state: 'visible' });
	assert.match((await cells(r))[1], /vserver\.view/);
	await shot(page, '14-tokens');

	// the secret works as a Bearer token
	const st = await page.evaluate(async (s) =>
		(await fetch('/api/v1/vserver-list', { method: 'POST', credentials: 'omit',
			headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + s },
			body: '{}' })).status, secret);
	assert.equal(st, 200);

	await page.reload();
	await page.locator('#app-header').waitFor({ state: 'visible' });
	await page.click('#tab-tokens');
	await r.waitFor({ state: 'visible' });
	assert.equal(await page.locator('#token-secret-box').isVisible(), false, 'the secret is shown once');
	await r.locator('[data-test="token-revoke"]').click();
	await r.waitFor({ state: 'detached' });
	await closePage(page);
});

test('TOTP: enrol in the Security tab, then log in with a code', async () => {
	const user = 't-user-' + SFX;
	const acc = await admin.call('account-create',
		{ parent_id: shared.me.account.id, name: 'TOTP ' + SFX, type: 'customer' });
	await admin.call('user-create', { account_id: acc.id, username: user, password: PW, role: 'user' });

	const page = await newPage();
	await loginOk(page, user, PW);
	await page.click('#tab-security');
	await assertText(page.locator('#sec-totp-state'), 'not enabled');
	await page.click('#sec-enrol-btn');
	await page.locator('#sec-enrol').waitFor({ state: 'visible' });
	assert.match(await page.locator('#sec-qr').getAttribute('src'), /^data:image\/png;base64,iVBOR/);
	const secret = (await page.locator('#sec-secret').textContent()).trim();
	await shot(page, '15-totp-enrol');
	await page.fill('#sec-confirm-code', totp(secret));
	await page.click('#sec-confirm-btn');
	await page.locator('#sec-totp-state').filter({ hasText: /^enabled$/ }).waitFor();
	assert.equal(await page.locator('#sec-disable-form').isVisible(), true);

	await page.click('#logout-btn');
	await login(page, user, PW);
	await page.locator('#totp-form').waitFor({ state: 'visible' });
	assert.equal(await page.locator('#app-header').isVisible(), false);
	await shot(page, '16-totp-login');
	// the confirm used the current time step and a step is never accepted twice: use the next
	await page.fill('#totp-code', totp(secret, Date.now() + 30000));
	await page.click('#totp-submit');
	await page.locator('#app-header').waitFor({ state: 'visible' });
	await assertText(page.locator('#hdr-user'), user);
	await closePage(page);
});

test('TOTP: an account with require_2fa forces enrolment at login', async () => {
	const user = 'r-user-' + SFX;
	const acc = await admin.call('account-create', { parent_id: shared.me.account.id,
		name: '2FA ' + SFX, type: 'customer', require_2fa: true });
	await admin.call('user-create', { account_id: acc.id, username: user, password: PW, role: 'user' });

	const page = await newPage();
	await login(page, user, PW);
	await page.locator('#enrol-view').waitFor({ state: 'visible' });
	await page.locator('#enrol-secret').filter({ hasText: /[A-Z2-7]{16,}/ }).waitFor();
	assert.match(await page.locator('#enrol-qr').getAttribute('src'), /^data:image\/png;base64,iVBOR/);
	assert.equal(await page.locator('#app-header').isVisible(), false);
	await shot(page, '17-enrol-required');
	const secret = (await page.locator('#enrol-secret').textContent()).trim();
	await page.fill('#enrol-code', totp(secret));
	await page.click('#enrol-submit');
	await page.locator('#app-header').waitFor({ state: 'visible' });
	await assertText(page.locator('#hdr-account'), acc.name);
	await closePage(page);
});
