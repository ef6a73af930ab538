/*
 * Log in to webrack's portal in Chromium (tests/lib/chromium.mjs), open a vServer's statistics
 * and report what the graphs show. Used by tests/integration/test_zz_stats.py.
 *
 *   WEBRACK_PASSWORD=... node tests/lib/portal_stats.mjs BASE_URL USERNAME VSERVER_NAME PNG [RANGE]
 *
 * The password comes from the environment, so it never shows on a command line. The helper
 * clicks the row's "Statistics…" button and picks RANGE (default day) in the range selector.
 * When each graph has loaded or failed, it saves the page to PNG and prints one JSON line:
 *   {range, graphs: {METRIC: {width, height, range}}, missing: [texts], errors}
 * A graph that failed to load is listed under missing with the portal's "no statistics yet" line.
 */
import { openPage, portalLogin, waitFor } from './chromium.mjs';

const [base, username, vserverName, png, range = 'day'] = process.argv.slice(2);
if (!base || !username || !vserverName || !png || !process.env.WEBRACK_PASSWORD) {
	process.stderr.write('usage: WEBRACK_PASSWORD=... node portal_stats.mjs BASE_URL USERNAME ' +
		'VSERVER_NAME PNG [RANGE]\n');
	process.exit(2);
}

/* In the page: every graph of the open statistics row loaded or replaced by its line. */
function settled() {
	const grid = document.querySelector('[data-test="stats-graphs"]');
	return !!grid && grid.children.length > 0 &&
		[...grid.querySelectorAll('img')].every((i) => i.complete && i.naturalWidth > 0);
}

/* In the page: the graphs as the browser decoded them. */
function graphs() {
	const grid = document.querySelector('[data-test="stats-graphs"]');
	const out = { graphs: {}, missing: [] };
	for (const img of grid.querySelectorAll('img'))
		out.graphs[img.dataset.test.replace(/^stats-/, '')] = {
			width: img.naturalWidth,
			height: img.naturalHeight,
			range: new URL(img.src).searchParams.get('range'),
		};
	for (const p of grid.querySelectorAll('p.empty'))
		out.missing.push(p.textContent);
	return out;
}

/* tall enough to show every graph: the portal loads them lazily, when on screen */
const { browser, page, errors } = await openPage({ width: 1280, height: 2400 });
try {
	page.setDefaultTimeout(30000);
	await portalLogin(page, base, username);
	const row = page.locator('#vserver-table tbody tr').filter({ hasText: vserverName }).first();
	await row.getByRole('button', { name: 'Statistics\u2026' }).click();
	const grid = page.locator('[data-test="stats-graphs"]');
	await grid.waitFor({ state: 'attached' });
	if (range !== 'day')
		await page.selectOption('[data-test="stats-range"]', range);
	await waitFor(page, settled, null, 30000);
	const report = { range, ...(await page.evaluate(graphs)) };
	await page.screenshot({ path: png, fullPage: true });
	report.errors = errors;
	process.stdout.write(JSON.stringify(report) + '\n');
} catch (e) {
	/* what the page looked like when it went wrong, next to the report's file */
	await page.screenshot({ path: png.replace(/\.png$/, '') + '-failed.png', fullPage: true })
		.catch(() => null);
	throw e;
} finally {
	await browser.close();
}
