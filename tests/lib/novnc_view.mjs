/*
 * Open webrack's console page in Chromium (tests/lib/chromium.mjs) and report what noVNC shows.
 * The page is /console/<id>#ticket=... and noVNC is Debian's novnc, served by webrackd. Used by
 * tests/integration/test_zz_console.py.
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
import { openPage, waitFor } from './chromium.mjs';

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

const { browser, page, errors } = await openPage();
try {
	await page.goto(url);
	await waitFor(page, look, true, Number(seconds) * 1000);
	const report = await page.evaluate(look, false);
	await page.screenshot({ path: png });
	report.errors = errors;
	process.stdout.write(JSON.stringify(report) + '\n');
} finally {
	await browser.close();
}
