/*
 * Log in to webrack's portal in Chromium (tests/lib/chromium.mjs) and report a vServer's row
 * as the customer sees it. Used by tests/integration/test_zz_guest_ip.py.
 *
 *   WEBRACK_PASSWORD=... node tests/lib/portal_row.mjs BASE_URL USERNAME VSERVER_NAME PNG
 *
 * Prints one JSON line: {cells: [text of each cell], state, ips, errors}. ips is the text of
 * the guest's addresses under the name ("" when none are shown). PNG gets the page.
 */
import { openPage, portalLogin } from './chromium.mjs';

const [base, username, vserverName, png] = process.argv.slice(2);
if (!base || !username || !vserverName || !png || !process.env.WEBRACK_PASSWORD) {
	process.stderr.write('usage: WEBRACK_PASSWORD=... node portal_row.mjs BASE_URL USERNAME ' +
		'VSERVER_NAME PNG\n');
	process.exit(2);
}

const { browser, page, errors } = await openPage();
try {
	page.setDefaultTimeout(30000);
	await portalLogin(page, base, username);
	const row = page.locator('#vserver-table tbody tr[data-test="vserver-row"]')
		.filter({ hasText: vserverName }).first();
	await row.waitFor({ state: 'visible' });
	const ips = row.locator('[data-test="vserver-ips"]');
	const report = {
		cells: (await row.locator('td').allTextContents()).map((s) => s.trim()),
		state: await row.getAttribute('data-state'),
		ips: (await ips.count()) ? (await ips.textContent()).trim() : '',
	};
	await page.screenshot({ path: png });
	report.errors = errors;
	process.stdout.write(JSON.stringify(report) + '\n');
} finally {
	await browser.close();
}
