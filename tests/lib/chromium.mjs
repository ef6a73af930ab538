/*
 * Debian's chromium for the pytest layer's browser checks (tests/lib/novnc_view.mjs,
 * tests/lib/portal_stats.mjs, tests/lib/portal_row.mjs), driven by playwright-core from
 * tests/browser/node_modules (tests/browser/ensure-playwright installs it). WEBRACK_CHROMIUM
 * overrides the binary.
 */
import { createRequire } from 'node:module';

const require = createRequire(new URL('../browser/package.json', import.meta.url));
const { chromium } = require('playwright-core');

/*
 * A headless browser and one page that accepts the test stack's self-signed certificate.
 * errors collects script errors and console errors (a CSP violation is one), except
 * a 4xx answer's.
 */
export async function openPage(viewport = { width: 1280, height: 900 }) {
	const browser = await chromium.launch({
		executablePath: process.env.WEBRACK_CHROMIUM || '/usr/bin/chromium',
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
			'--disable-background-networking', '--disable-component-update', '--disable-sync'],
	});
	const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport });
	const page = await ctx.newPage();
	const errors = [];
	page.on('pageerror', (e) => errors.push(e.message));
	page.on('console', (m) => {
		/* as in tests/browser: 4xx answers are expected (the portal's session check before the
		   login), and the page shows them itself */
		if (m.type() === 'error' && !/Failed to load resource: .* status of 4\d\d/.test(m.text()))
			errors.push(m.text());
	});
	return { browser, page, errors };
}

/* Wait for a page condition; false when the deadline passed first. */
export async function waitFor(page, fn, arg, ms) {
	try {
		await page.waitForFunction(fn, arg, { polling: 250, timeout: ms });
		return true;
	} catch (e) {
		if (e.name !== 'TimeoutError')
			throw e;
		return false;
	}
}

/* Log in to the portal at base as username (password: WEBRACK_PASSWORD) and wait for the app. */
export async function portalLogin(page, base, username) {
	await page.goto(base + '/');
	await page.locator('#login-form').waitFor({ state: 'visible' });
	await page.fill('#login-username', username);
	await page.fill('#login-password', process.env.WEBRACK_PASSWORD);
	await page.click('#login-submit');
	await page.locator('#app-header').waitFor({ state: 'visible' });
}
