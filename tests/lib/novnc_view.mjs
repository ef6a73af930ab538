/*
 * Open webrack's console page in Chromium and report what noVNC shows. The browser is Debian's
 * chromium, driven by playwright-core from tests/browser/node_modules (tests/browser/ensure-playwright
 * installs it). The page is /console/<id>#ticket=... and noVNC is Debian's novnc, served by
 * webrackd. Used by tests/integration/test_zz_console.py.
 *
 *   node tests/lib/novnc_view.mjs URL PNG [SECONDS]
 *
 * Waits (at most SECONDS, default 60) until the canvas shows the guest's screen (more than 200
 * pixels that are not black) or the page reports a failure. Then it saves the page to PNG and
 * prints one JSON line: {status, bad, title, width, height, shown, nonblack, errors}. status is
 * the console bar's text and bad its error flag. width and height are noVNC's framebuffer size,
 * shown the canvas's size on the page in CSS pixels.
 * errors holds script errors and console errors, CSP violations included. The exit status is 0
 * whenever a report was printed: the test decides what the report must say.
 */
import { createRequire } from 'node:module';

const require = createRequire(new URL('../browser/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const [url, png, seconds = '60'] = process.argv.slice(2);
if (!url || !png) {
	process.stderr.write('usage: node novnc_view.mjs URL PNG [SECONDS]\n');
	process.exit(2);
}

/*
 * In the page (self-contained: Playwright sends its source; the page's CSP forbids eval): the
 * console bar and the canvas, counted. With untilDone, only whether to stop waiting.
 */
function look(untilDone) {
	const status = document.getElementById('console-status');
	const canvas = document.querySelector('#console-screen canvas');
	const r = {
		status: status.textContent,
		bad: status.classList.contains('bad'),
		title: document.title,
		width: 0,
		height: 0,
		shown: [0, 0],
		nonblack: 0,
	};
	if (canvas && canvas.width > 0 && canvas.height > 0) {
		r.width = canvas.width;
		r.height = canvas.height;
		const box = canvas.getBoundingClientRect();
		r.shown = [Math.round(box.width), Math.round(box.height)];
		const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
		for (let i = 0; i < px.length; i += 4)
			if (px[i] | px[i + 1] | px[i + 2])
				r.nonblack++;
	}
	return untilDone ? r.bad || r.nonblack > 200 : r;
}

const browser = await chromium.launch({
	executablePath: process.env.WEBRACK_CHROMIUM || '/usr/bin/chromium',
	args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
		'--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
	const ctx = await browser.newContext({
		ignoreHTTPSErrors: true,
		viewport: { width: 1280, height: 900 },
	});
	const page = await ctx.newPage();
	const errors = [];
	page.on('pageerror', (e) => errors.push(e.message));
	page.on('console', (m) => {
		if (m.type() === 'error')
			errors.push(m.text());
	});
	await page.goto(url);
	const deadline = Number(seconds) * 1000;
	try {
		await page.waitForFunction(look, true, { polling: 250, timeout: deadline });
	} catch (e) {
		if (e.name !== 'TimeoutError')
			throw e;
	}
	const report = await page.evaluate(look, false);
	await page.screenshot({ path: png });
	report.errors = errors;
	process.stdout.write(JSON.stringify(report) + '\n');
} finally {
	await browser.close();
}
