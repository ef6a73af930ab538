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
import { execFileSync } from 'node:child_process';
import os from 'node:os';
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
		['vServers', 'Accounts', 'Users', 'Nodes', 'Job log', 'Audit', 'API tokens', 'Security']);
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

// ---------- vServer lifecycle, nodes, ISO library ----------

// an account of its own for the lifecycle tests (no quotas in the way)
async function lifeAccount() {
	if (!shared.life)
		shared.life = await admin.call('account-create',
			{ parent_id: shared.me.account.id, name: 'Life ' + SFX, type: 'customer' });
	return shared.life;
}

async function newVserver(prefix, cores = 1) {
	const acc = await lifeAccount();
	return admin.call('vserver-create',
		{ account_id: acc.id, name: prefix + '-' + SFX, cores, ram_mb: 1024, disk_gb: 10 });
}

async function rowButtons(r) {
	return (await r.locator('.row-actions button:visible').allTextContents()).map((s) => s.trim());
}

test('a vServer row shows its state and the buttons its state and the privileges allow', async () => {
	const v = await newVserver('life');
	const acc = await lifeAccount();
	await admin.call('user-create', { account_id: acc.id, username: 'l-user-' + SFX, password: PW,
		role: 'user' });

	let page = await newPage();
	await loginOk(page, ADMIN, ADMIN_PW);
	let r = row(page, 'vserver-table', v.name);
	await r.waitFor({ state: 'visible' });
	assert.equal((await r.locator('[data-test="vserver-state"]').textContent()).trim(), 'defined');
	assert.equal(await r.getAttribute('data-state'), 'defined');
	// defined: it can be started, resized, get an ISO, be deleted, its graphs shown; nothing to
	// stop or pause, no console (it does not run)
	assert.deepEqual(await rowButtons(r),
		['Start', 'Resize\u2026', 'ISO\u2026', 'Delete', 'Statistics\u2026']);
	const heads = (await page.locator('#vserver-table thead th').allTextContents()).map((s) => s.trim());
	assert.deepEqual(heads, ['Name', 'Account', 'Cores', 'RAM', 'Disk', 'State', 'Created', 'Actions']);
	await shot(page, '20-vserver-buttons');
	await closePage(page);

	// the "user" role has vserver.power and stats.view but not vserver.edit: Start, Statistics
	page = await newPage();
	await loginOk(page, 'l-user-' + SFX, PW);
	r = row(page, 'vserver-table', v.name);
	await r.waitFor({ state: 'visible' });
	assert.deepEqual(await rowButtons(r), ['Start', 'Statistics\u2026']);
	await closePage(page);
});

test('Start on a stack without nodes: progress line, then the failed reason and the job log', async () => {
	const v = await newVserver('start');
	const page = await newPage();
	await loginOk(page, ADMIN, ADMIN_PW);
	const r = row(page, 'vserver-table', v.name);
	await r.waitFor({ state: 'visible' });
	const [resp] = await Promise.all([
		page.waitForResponse((x) => x.url().endsWith('/api/v1/vserver-start')),
		r.locator('[data-test="vs-start"]').click(),
	]);
	const started = (await resp.json()).result;
	assert.ok(started.task_id > 0, 'vserver-start answers a task id');
	const line = page.locator(`#task-progress [data-task="${started.task_id}"]`);
	await line.waitFor({ state: 'visible' });
	assert.match(await line.locator('.progress-text').textContent(),
		new RegExp(`^Starting ${v.name} \u2026 task ${started.task_id}$`));
	await shot(page, '21-start-progress');

	// task-get is polled every second until the task ends; its reason lands in the error bar
	await page.locator('#error-bar').waitFor({ state: 'visible' });
	const err = await page.locator('#error-text').textContent();
	assert.match(err, /no capacity/);
	assert.ok(err.includes(v.name), 'the error names the vServer: ' + err);
	await line.and(page.locator('.failed')).waitFor({ state: 'visible' });
	assert.match(await line.textContent(), /failed.*no capacity/);
	// the row was fetched again: still defined, with the reason
	await r.locator('[data-test="vserver-error"]').filter({ hasText: 'no capacity' }).waitFor();
	assert.equal((await r.locator('[data-test="vserver-state"]').textContent()).trim(), 'defined');
	assert.equal(await r.locator('[data-test="vs-start"]').isEnabled(), true, 'buttons usable again');
	await shot(page, '22-start-failed');

	await page.click('#tab-tasks');
	const t = page.locator('#task-table tbody tr').filter({ hasText: v.name })
		.filter({ hasText: 'vserver-start' });
	await t.first().waitFor({ state: 'visible' });
	const c = await cells(t.first());
	assert.equal(c[0], 'vserver');
	assert.equal(c[2], `vserver-start (${ADMIN})`);
	assert.equal(c[5], 'failed');
	assert.match(c[6], /no capacity/);
	await shot(page, '23-job-log-failed-start');
	await closePage(page);
});

test('a click on one row does not hold up another row', async () => {
	const a = await newVserver('par-a');
	const b = await newVserver('par-b');
	const page = await newPage();
	await loginOk(page, ADMIN, ADMIN_PW);
	const ra = row(page, 'vserver-table', a.name);
	const rb = row(page, 'vserver-table', b.name);
	await ra.waitFor({ state: 'visible' });
	await ra.locator('[data-test="vs-start"]').click();
	await page.locator('#task-progress .progress-line').filter({ hasText: a.name }).waitFor();
	// while a's task is followed, b's buttons work at once
	await rb.locator('[data-test="vs-start"]').click();
	await page.locator('#task-progress .progress-line').filter({ hasText: b.name }).waitFor();
	for (const n of [a.name, b.name])
		await page.locator('#task-progress .progress-line.failed').filter({ hasText: n }).waitFor();
	await closePage(page);
});

test('Resize of a defined vServer changes its cores and RAM in the table', async () => {
	const v = await newVserver('resize', 1);
	const page = await newPage();
	await loginOk(page, ADMIN, ADMIN_PW);
	const r = row(page, 'vserver-table', v.name);
	await r.waitFor({ state: 'visible' });
	assert.equal((await cells(r))[2], '1');
	await r.locator('[data-test="vs-open-resize"]').click();
	const d = page.locator(`#vserver-table tr[data-test="vserver-detail"][data-id="${v.id}"]`);
	await d.waitFor({ state: 'visible' });
	assert.equal(await d.locator('[data-test="resize-cores"]').inputValue(), '1');
	await d.locator('[data-test="resize-cores"]').fill('3');
	await d.locator('[data-test="resize-ram"]').fill('2048');
	await shot(page, '24-resize-form');
	await d.locator('[data-test="resize-apply"]').click();
	await r.locator('td:nth-child(3)').filter({ hasText: /^3$/ }).waitFor();
	assert.deepEqual((await cells(r)).slice(0, 6), [v.name, 'Life ' + SFX, '3', '2 GB', '10 GB', 'defined']);
	await d.waitFor({ state: 'detached' });
	assert.equal(await page.locator('#error-bar').isVisible(), false);
	assert.equal((await admin.call('vserver-get', { id: v.id })).cores, 3);
	await closePage(page);
});

test('Attach ISO offers the library and runs as a task', async () => {
	await admin.call('iso-rescan');
	const v = await newVserver('iso');
	const page = await newPage();
	await loginOk(page, ADMIN, ADMIN_PW);
	const r = row(page, 'vserver-table', v.name);
	await r.waitFor({ state: 'visible' });
	await r.locator('[data-test="vs-open-iso"]').click();
	const d = page.locator(`#vserver-table tr[data-test="vserver-detail"][data-id="${v.id}"]`);
	const sel = d.locator('[data-test="iso-select"]');
	await sel.locator('option', { hasText: 'debian-12-netinst.iso' }).waitFor({ state: 'attached' });
	assert.equal(await sel.isEnabled(), true);
	await sel.selectOption({ label: 'debian-12-netinst.iso (64 KB)' });
	await shot(page, '25-iso-form');
	await d.locator('[data-test="vs-attach-iso"]').click();
	const line = page.locator('#task-progress .progress-line').filter({ hasText: v.name });
	await line.waitFor();
	assert.match(await line.locator('.progress-text').textContent(), /^Attaching an ISO to /);
	await line.and(page.locator('.done')).waitFor();
	assert.match(await line.textContent(), /next start/);
	await d.locator('[data-test="vs-detach-iso"]').click();
	await page.locator('#task-progress .progress-line.done').filter({ hasText: 'Detaching the ISO of ' + v.name })
		.waitFor();
	assert.equal(await page.locator('#error-bar').isVisible(), false);
	await closePage(page);
});

test('Delete asks for a confirmation and removes the row', async () => {
	const v = await newVserver('del');
	const page = await newPage();
	await loginOk(page, ADMIN, ADMIN_PW);
	const r = row(page, 'vserver-table', v.name);
	await r.waitFor({ state: 'visible' });

	let asked = '';
	page.once('dialog', (dlg) => { asked = dlg.message(); dlg.dismiss(); });
	await r.locator('[data-test="vserver-delete"]').click();
	assert.match(asked, new RegExp(`Delete vServer "${v.name}"`));
	await page.waitForTimeout(300);
	assert.equal(await r.count(), 1, 'cancelled: the row stays');

	page.once('dialog', (dlg) => dlg.accept());
	await r.locator('[data-test="vserver-delete"]').click();
	await r.waitFor({ state: 'detached' });
	assert.equal(await page.locator('#error-bar').isVisible(), false);
	await assert.rejects(admin.call('vserver-get', { id: v.id }), /not_found/);
	await closePage(page);
});

test('the Nodes tab is there for the provider admin and not for a customer admin', async () => {
	const acc = await lifeAccount();
	await admin.call('user-create', { account_id: acc.id, username: 'l-admin-' + SFX, password: PW,
		role: 'admin' });
	let page = await newPage();
	await loginOk(page, 'l-admin-' + SFX, PW);
	await page.locator('#vserver-table').waitFor({ state: 'visible' });
	assert.equal(await page.locator('#tab-nodes').isVisible(), false);
	assert.ok(!(await visibleTabs(page)).includes('Nodes'));
	assert.equal(await page.locator('#panel-nodes').isVisible(), false);
	await closePage(page);

	page = await newPage();
	await loginOk(page, ADMIN, ADMIN_PW);
	assert.equal(await page.locator('#tab-nodes').isVisible(), true);
	await page.click('#tab-nodes');
	await page.locator('#panel-nodes').waitFor({ state: 'visible' });
	const heads = (await page.locator('#node-table thead th').allTextContents()).map((s) => s.trim());
	assert.deepEqual(heads, ['Name', 'State', 'Cores used / dedicated', 'RAM', 'Reserve',
		'Maintenance', 'Last seen']);
	await closePage(page);
});

test('Nodes: a join token is shown once, the node appears and takes the maintenance flag', async () => {
	const name = 'rack-' + SFX;
	const page = await newPage();
	await loginOk(page, ADMIN, ADMIN_PW);
	await page.click('#tab-nodes');
	await page.locator('#join-form').waitFor({ state: 'visible' });
	assert.equal(await page.locator('#join-box').isVisible(), false);
	await page.fill('#join-node-name', name);
	await page.click('#join-submit');
	await page.locator('#join-box').waitFor({ state: 'visible' });
	const token = (await page.locator('#join-token').textContent()).trim();
	assert.match(token, /^wrj_[A-Za-z0-9_-]{20,}$/);
	const host = new URL(BASE).host;
	assert.equal((await page.locator('#join-cmd').textContent()).trim(),
		`webrack-node join https://${host} ${token} --ca /etc/webrack/controller.pem`);
	assert.equal((await page.locator('#join-name').textContent()).trim(), name);
	await shot(page, '26-join-token');

	// what webrack-node join does: a CSR with CN = the node name, exchanged with the token
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wr-join-'));
	try {
		execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
			'-nodes', '-subj', '/CN=' + name, '-keyout', path.join(dir, 'k.pem'),
			'-out', path.join(dir, 'r.pem')], { stdio: 'ignore' });
		const csr = fs.readFileSync(path.join(dir, 'r.pem'), 'utf8');
		const joined = await page.evaluate(async ([t, c]) => (await (await fetch('/api/v1/node-join',
			{ method: 'POST', credentials: 'omit', headers: { 'Content-Type': 'application/json' },
				body: JSON.stringify({ token: t, csr_pem: c }) })).json()), [token, csr]);
		assert.equal(joined.ok, true, JSON.stringify(joined));
		assert.equal(joined.result.name, name);
	} finally {
		fs.rmSync(dir, { recursive: true, force: true });
	}

	await page.click('#panel-nodes [data-refresh="nodes"]');
	const r = row(page, 'node-table', name);
	await r.waitFor({ state: 'visible' });
	const c = await cells(r);
	assert.equal(c[0], name);
	assert.equal(c[1], 'new');
	assert.equal(c[2], '0 / \u2013');
	assert.equal(c[6], 'never');
	const maint = r.locator('[data-test="node-maintenance"]');
	assert.equal(await maint.isChecked(), false);
	await maint.check();
	await r.locator('td:nth-child(6)').filter({ hasText: 'on' }).waitFor();
	const id = Number(await r.getAttribute('data-id'));
	assert.equal((await admin.call('node-get', { id })).maintenance, true);
	assert.equal((await admin.call('node-get', { id })).reserve, false);

	// the ISO library below it
	await page.click('#iso-rescan');
	await row(page, 'iso-table', 'debian-12-netinst.iso').waitFor({ state: 'visible' });
	assert.deepEqual(await cells(row(page, 'iso-table', 'rescue.iso')),
		['rescue.iso', '32 KB', 'everybody (public)']);
	await shot(page, '27-nodes');

	// shown once: gone after a reload
	await page.reload();
	await page.locator('#app-header').waitFor({ state: 'visible' });
	await page.click('#tab-nodes');
	await r.waitFor({ state: 'visible' });
	assert.equal(await page.locator('#join-box').isVisible(), false, 'the token is shown once');
	assert.equal((await page.locator('#join-token').textContent()).trim(), '');
	await closePage(page);
});
