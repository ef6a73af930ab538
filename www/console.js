/*
 * The console page /console/<vserver id>#ticket=<one-time ticket>: noVNC (Debian's novnc package,
 * served by webrackd under /novnc/) connected to webrackd's console WebSocket. The ticket comes
 * in the URL fragment (never sent in a page request) and is removed from the address bar at
 * once; webrackd redeems it when the WebSocket opens, so reloading the page needs a new ticket
 * from the portal. webrackd does the RFB security handshake itself (None inside TLS), so noVNC
 * asks for no password. When the vServer stops or moves webrackd closes the WebSocket with a
 * reason, shown here.
 */
import RFB from '/novnc/core/rfb.js';

const status = document.getElementById('console-status');
const cad = document.getElementById('console-cad');

function show(text, bad) {
	status.textContent = text;
	status.classList.toggle('bad', !!bad);
}

const id = (location.pathname.match(/^\/console\/(\d+)$/) || [])[1];
const ticket = new URLSearchParams(location.hash.slice(1)).get('ticket');
history.replaceState(null, '', location.pathname); /* the ticket is single-use anyway */

if (!id || !ticket) {
	show('This page needs a console ticket: open the console from the portal.', true);
} else {
	document.getElementById('console-title').textContent = 'Console of vServer ' + id;
	const url = 'wss://' + location.host + '/console/ws?vserver=' + id +
		'&ticket=' + encodeURIComponent(ticket);
	const rfb = new RFB(document.getElementById('console-screen'), url, { wsProtocols: ['binary'] });
	let closeReason = '';
	rfb.scaleViewport = true;
	rfb.addEventListener('connect', () => {
		show('connected');
		cad.disabled = false;
		/* noVNC does not pass the close frame's reason on: listen on its WebSocket for it. */
		const ws = rfb._sock && rfb._sock._websocket;
		if (ws)
			ws.addEventListener('close', (e) => {
				if (e.reason)
					closeReason = 'console closed: ' + e.reason;
			});
	});
	rfb.addEventListener('desktopname', (e) => {
		document.title = e.detail.name + ' - webrack';
	});
	rfb.addEventListener('disconnect', (e) => {
		cad.disabled = true;
		/* after the WebSocket's own close listeners, which know the reason */
		setTimeout(() => show(closeReason || (e.detail.clean ? 'disconnected' :
			'the console could not be opened (the ticket is used or expired, or the vServer is not running)'),
		true), 0);
	});
	cad.addEventListener('click', () => rfb.sendCtrlAltDel());
}
