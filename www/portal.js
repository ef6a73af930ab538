/*
 * webrack portal: plain JavaScript, no framework, no external resources.
 *
 * Every call goes to POST /api/v1/<op> with the session cookie and the CSRF token.
 * Data from the server is only ever put into the page with textContent / DOM
 * properties, never with innerHTML (the CSP forbids inline code anyway).
 */
'use strict';

(function () {
	var CSRF_KEY = 'webrack.csrf';
	var ALL_PRIVS = ['account.view', 'account.manage', 'user.manage', 'vserver.view',
		'vserver.power', 'vserver.console', 'vserver.edit', 'vserver.migrate',
		'image.manage', 'stats.view', 'task.view', 'audit.view'];

	var state = {
		csrf: null,        /* kept in memory; mirrored in sessionStorage for reloads */
		me: null,          /* whoami result */
		privs: [],
		accounts: [],      /* last account-list (or own account) */
		accountById: {},
		tab: null
	};

	function $(id) { return document.getElementById(id); }

	/* ---------- small DOM helpers ---------- */

	function el(tag, opts) {
		var e = document.createElement(tag);
		if (opts) {
			if (opts.text !== undefined && opts.text !== null)
				e.textContent = String(opts.text);
			if (opts.cls)
				e.className = opts.cls;
			if (opts.title)
				e.title = opts.title;
			if (opts.data) {
				Object.keys(opts.data).forEach(function (k) { e.dataset[k] = opts.data[k]; });
			}
		}
		return e;
	}

	function td(text, cls) {
		return el('td', { text: text, cls: cls });
	}

	function clear(node) {
		while (node.firstChild)
			node.removeChild(node.firstChild);
	}

	function show(node, on) {
		node.hidden = !on;
	}

	function fmtTime(s) {
		if (!s)
			return '';
		var d = new Date(s);
		if (isNaN(d.getTime()))
			return String(s);
		function p(n) { return (n < 10 ? '0' : '') + n; }
		return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + ' ' +
			p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds());
	}

	function fmtQuota(v, unit) {
		if (v === null || v === undefined)
			return '\u221e';
		return unit ? v + ' ' + unit : String(v);
	}

	function fmtMB(mb) {
		if (mb >= 1024 && mb % 1024 === 0)
			return (mb / 1024) + ' GB';
		return mb + ' MB';
	}

	function badge(text, kind) {
		return el('span', { text: text, cls: 'badge badge-' + (kind || 'plain') });
	}

	function hasPriv(p) {
		return state.privs.indexOf(p) >= 0;
	}

	function accountName(id) {
		var a = state.accountById[id];
		return a ? a.name : '#' + id;
	}

	/* ---------- error and notice bars ---------- */

	function showError(msg) {
		show($('notice-bar'), false);
		$('error-text').textContent = msg;
		show($('error-bar'), true);
	}

	function clearError() {
		$('error-text').textContent = '';
		show($('error-bar'), false);
	}

	var noticeTimer = null;
	function notice(msg) {
		var n = $('notice-bar');
		n.textContent = msg;
		show(n, true);
		if (noticeTimer)
			clearTimeout(noticeTimer);
		noticeTimer = setTimeout(function () { show(n, false); }, 4000);
	}

	/* ---------- API ---------- */

	function ApiError(code, message, status) {
		this.code = code;
		this.message = message;
		this.status = status;
	}

	function setCsrf(tok) {
		state.csrf = tok || null;
		try {
			if (tok)
				sessionStorage.setItem(CSRF_KEY, tok);
			else
				sessionStorage.removeItem(CSRF_KEY);
		} catch (e) { /* storage disabled: memory only */ }
	}

	function api(op, params) {
		var headers = { 'Content-Type': 'application/json' };
		if (state.csrf)
			headers['X-CSRF-Token'] = state.csrf;
		return fetch('/api/v1/' + op, {
			method: 'POST',
			credentials: 'same-origin',
			headers: headers,
			body: JSON.stringify(params || {})
		}).then(function (resp) {
			return resp.text().then(function (txt) {
				var j = null;
				try { j = JSON.parse(txt); } catch (e) { j = null; }
				if (j && j.ok === true)
					return j.result;
				if (j && j.error)
					throw new ApiError(j.error.code, j.error.message || j.error.code, resp.status);
				throw new ApiError('http', 'HTTP ' + resp.status + ' ' + resp.statusText, resp.status);
			});
		}, function (err) {
			throw new ApiError('network', 'cannot reach the server: ' + err.message, 0);
		});
	}

	/* Runs an API call; on failure shows the message in the error bar. */
	function call(op, params) {
		return api(op, params).catch(function (e) {
			if (e.code === 'unauthenticated' && state.me && op !== 'login') {
				/* the session expired underneath us */
				toLogin();
			}
			showError(e.message);
			throw e;
		});
	}

	/* ---------- views: login / 2FA / app ---------- */

	function authView(which) {
		show($('app-header'), false);
		show($('app-view'), false);
		show($('foot'), false);
		show($('login-view'), true);
		show($('login-form'), which === 'login');
		show($('totp-form'), which === 'totp');
		show($('enrol-view'), which === 'enrol');
		var focus = { login: 'login-username', totp: 'totp-code', enrol: 'enrol-code' }[which];
		if (focus)
			$(focus).focus();
	}

	function toLogin() {
		state.me = null;
		state.privs = [];
		setCsrf(null);
		$('login-password').value = '';
		$('totp-code').value = '';
		$('enrol-code').value = '';
		/* nothing of the previous user stays in the page */
		document.querySelectorAll('table.grid tbody').forEach(clear);
		show($('token-secret-box'), false);
		$('token-secret').textContent = '';
		show($('sec-enrol'), false);
		$('sec-secret').textContent = '';
		hideJoinBox();
		clear($('task-progress'));
		vs.byId = {};
		vs.open = {};
		vs.busy = {};
		vs.isos = null;
		authView('login');
	}

	function afterLogin(res) {
		if (res.csrf_token)
			setCsrf(res.csrf_token);
		if (res.totp_required) {
			authView('totp');
			return Promise.resolve();
		}
		if (res.totp_enrol_required)
			return startEnrolment();
		return enterApp();
	}

	function startEnrolment() {
		authView('enrol');
		return call('totp-enrol', {}).then(function (r) {
			$('enrol-qr').src = 'data:image/png;base64,' + r.qr_png_base64;
			$('enrol-secret').textContent = r.secret_base32;
		});
	}

	function enterApp() {
		return call('whoami', {}).then(function (me) {
			if (me.totp_required) {
				authView('totp');
				return;
			}
			if (me.totp_enrol_required) {
				startEnrolment();
				return;
			}
			state.me = me;
			state.privs = me.account_privileges || [];
			if (me.csrf_token)
				setCsrf(me.csrf_token);
			state.accounts = [me.account];
			state.accountById = {};
			state.accountById[me.account.id] = me.account;

			$('hdr-user').textContent = me.user.display_name ?
				me.user.display_name + ' (' + me.user.username + ')' : me.user.username;
			$('hdr-account').textContent = me.account.name;
			$('hdr-account-type').textContent = me.account.type;

			setupTabs();
			show($('vserver-form'), hasPriv('vserver.edit'));
			show($('account-form'), hasPriv('account.manage') && me.account.type !== 'customer');
			show($('user-form'), hasPriv('user.manage'));
			fillTokenPrivs();
			/* the account names are needed by every table: load them first */
			return loadAccounts().then(function () {
				show($('login-view'), false);
				show($('app-header'), true);
				show($('app-view'), true);
				show($('foot'), true);
				return selectTab(visibleTabs()[0]);
			});
		});
	}

	/* ---------- tabs ---------- */

	function tabButtons() {
		return Array.prototype.slice.call(document.querySelectorAll('#tabs .tab'));
	}

	function tabAllowed(btn) {
		var need = btn.dataset.priv;
		/* data-provider: only for the provider's own staff (nodes are its hardware) */
		if (btn.dataset.provider && !(state.me && state.me.account.type === 'provider'))
			return false;
		if (!need)
			return true;
		return need.split(' ').some(hasPriv);
	}

	function setupTabs() {
		tabButtons().forEach(function (b) { show(b, tabAllowed(b)); });
	}

	function visibleTabs() {
		return tabButtons().filter(function (b) { return !b.hidden; })
			.map(function (b) { return b.dataset.tab; });
	}

	function selectTab(name) {
		if (visibleTabs().indexOf(name) < 0)
			name = visibleTabs()[0];
		state.tab = name;
		tabButtons().forEach(function (b) {
			var on = b.dataset.tab === name;
			b.classList.toggle('active', on);
			b.setAttribute('aria-selected', on ? 'true' : 'false');
		});
		document.querySelectorAll('.panel').forEach(function (p) {
			show(p, p.id === 'panel-' + name);
		});
		return loaders[name]();
	}

	/* ---------- accounts ---------- */

	function loadAccounts() {
		if (!hasPriv('account.view')) {
			fillAccountSelects();
			return Promise.resolve();
		}
		return call('account-list', {}).then(function (r) {
			state.accounts = r.items;
			state.accountById = {};
			r.items.forEach(function (a) { state.accountById[a.id] = a; });
			if (state.me && !state.accountById[state.me.account.id]) {
				state.accountById[state.me.account.id] = state.me.account;
				state.accounts.unshift(state.me.account);
			}
			fillAccountSelects();
		}).catch(function () { /* error shown */ });
	}

	/* accounts ordered as a tree: [{acc, depth}] */
	function accountTree() {
		var children = {}, roots = [];
		state.accounts.forEach(function (a) {
			if (a.parent_id === null || !state.accountById[a.parent_id])
				roots.push(a);
			else
				(children[a.parent_id] = children[a.parent_id] || []).push(a);
		});
		function byName(x, y) { return x.name.localeCompare(y.name); }
		var out = [];
		function walk(a, depth) {
			out.push({ acc: a, depth: depth });
			(children[a.id] || []).sort(byName).forEach(function (c) { walk(c, depth + 1); });
		}
		roots.sort(byName).forEach(function (r) { walk(r, 0); });
		return out;
	}

	function fillSelect(sel, items, keepValue) {
		var old = sel.value;
		clear(sel);
		items.forEach(function (it) {
			var o = el('option', { text: it.label });
			o.value = String(it.value);
			sel.appendChild(o);
		});
		if (keepValue && old && items.some(function (it) { return String(it.value) === old; }))
			sel.value = old;
	}

	function fillAccountSelects() {
		var tree = accountTree();
		function label(t) {
			return '\u2003'.repeat(t.depth) + t.acc.name + ' (' + t.acc.type + ')';
		}
		var all = tree.map(function (t) { return { value: t.acc.id, label: label(t) }; });
		fillSelect($('vs-account'), all, true);
		fillSelect($('usr-account'), all, true);
		var parents = tree.filter(function (t) { return t.acc.type !== 'customer'; })
			.map(function (t) { return { value: t.acc.id, label: label(t) }; });
		fillSelect($('acc-parent'), parents, true);
		updateAccountTypeChoices();
	}

	function updateAccountTypeChoices() {
		var p = state.accountById[$('acc-parent').value];
		var resOpt = $('acc-type').querySelector('option[value="reseller"]');
		var resellerOk = !p || p.type === 'provider';
		resOpt.disabled = !resellerOk;
		if (!resellerOk)
			$('acc-type').value = 'customer';
	}

	function renderAccounts() {
		var tb = $('account-table').tBodies[0];
		clear(tb);
		accountTree().forEach(function (t) {
			var a = t.acc;
			var tr = el('tr', { data: { id: String(a.id), test: 'account-row' } });
			var name = td('', 'tree-cell');
			var wrap = el('span', { cls: 'tree-name' + (t.depth ? ' tree-child' : '') });
			wrap.style.paddingLeft = (t.depth * 1.6) + 'em';
			wrap.textContent = a.name;
			name.appendChild(wrap);
			tr.appendChild(name);
			var ty = td('');
			ty.appendChild(badge(a.type, a.type));
			tr.appendChild(ty);
			tr.appendChild(td(fmtQuota(a.quota_cores), 'num'));
			tr.appendChild(td(a.quota_ram_mb === null ? '\u221e' : fmtMB(a.quota_ram_mb), 'num'));
			tr.appendChild(td(fmtQuota(a.quota_disk_gb, 'GB'), 'num'));
			tr.appendChild(td(fmtQuota(a.quota_vservers), 'num'));
			tr.appendChild(td(a.require_2fa ? 'required' : ''));
			var st = td('');
			st.appendChild(a.enabled ? badge('enabled', 'ok') : badge('disabled', 'bad'));
			tr.appendChild(st);
			var act = td('', 'actions');
			if (hasPriv('account.manage') && a.type !== 'provider' && state.me &&
			    a.id !== state.me.account.id) {
				var del = el('button', { text: 'Delete', cls: 'btn btn-small btn-danger-light' });
				del.type = 'button';
				del.dataset.test = 'account-delete';
				del.addEventListener('click', function () {
					if (!window.confirm('Delete account "' + a.name + '"?'))
						return;
					call('account-delete', { id: a.id }).then(function () {
						notice('Account ' + a.name + ' deleted');
						return loadAccounts().then(renderAccounts);
					}).catch(function () {});
				});
				act.appendChild(del);
			}
			tr.appendChild(act);
			tb.appendChild(tr);
		});
	}

	function intOrNull(id) {
		var v = $(id).value.trim();
		return v === '' ? undefined : parseInt(v, 10);
	}

	function onAccountCreate(ev) {
		ev.preventDefault();
		clearError();
		var p = {
			parent_id: parseInt($('acc-parent').value, 10),
			name: $('acc-name').value.trim(),
			type: $('acc-type').value
		};
		var q = { quota_cores: 'acc-cores', quota_ram_mb: 'acc-ram', quota_disk_gb: 'acc-disk',
			quota_vservers: 'acc-vservers' };
		Object.keys(q).forEach(function (k) {
			var v = intOrNull(q[k]);
			if (v !== undefined)
				p[k] = v;
		});
		if ($('acc-2fa').checked)
			p.require_2fa = true;
		call('account-create', p).then(function (a) {
			notice('Account ' + a.name + ' created');
			$('account-form').reset();
			return loadAccounts().then(renderAccounts);
		}).catch(function () {});
	}

	/* ---------- vServers ---------- */

	/*
	 * Every vServer row carries the buttons its state allows (and the caller's privileges on
	 * its own account suggest; the server decides, a refusal lands in the error bar). Lifecycle
	 * operations answer {task_id, status} at once: a progress line follows the task (task-get
	 * every second) and the row is refreshed on its own when the task ends. Nothing waits for
	 * anything else: every row and every task is independent.
	 */

	var ACTIONS = [
		/* act, button text, privilege, states it is offered in, progress verb */
		{ act: 'start', text: 'Start', priv: 'vserver.power', states: ['defined', 'stopped', 'parked', 'error'], verb: 'Starting' },
		{ act: 'shutdown', text: 'Shut down', priv: 'vserver.power', states: ['running'], verb: 'Shutting down' },
		{ act: 'stop', text: 'Stop', priv: 'vserver.power', states: ['running', 'paused', 'error'], verb: 'Stopping' },
		{ act: 'reset', text: 'Reset', priv: 'vserver.power', states: ['running'], verb: 'Resetting' },
		{ act: 'pause', text: 'Pause', priv: 'vserver.power', states: ['running'], verb: 'Pausing' },
		{ act: 'resume', text: 'Resume', priv: 'vserver.power', states: ['paused'], verb: 'Resuming' },
		{ act: 'park', text: 'Park', priv: 'vserver.edit', states: ['stopped'], verb: 'Parking' },
		{ act: 'unpark', text: 'Unpark', priv: 'vserver.edit', states: ['parked'], verb: 'Unparking' }
	];
	var VERBS = { 'attach-iso': 'Attaching an ISO to', 'detach-iso': 'Detaching the ISO of',
		resize: 'Resizing', 'delete': 'Deleting' };
	ACTIONS.forEach(function (a) { VERBS[a.act] = a.verb; });

	var STATE_KIND = { running: 'ok', paused: 'run', error: 'bad' };

	var vs = {
		byId: {},      /* id -> last vserver object */
		open: {},      /* id -> 'resize' | 'iso' (the detail row under it) */
		busy: {},      /* id -> task id of the task the page follows */
		isos: null     /* last iso-list */
	};

	function btn(text, cls, test) {
		var b = el('button', { text: text, cls: 'btn btn-small ' + (cls || 'btn-light') });
		b.type = 'button';
		if (test)
			b.dataset.test = test;
		return b;
	}

	function vsRowOf(id) {
		return $('vserver-table').querySelector('tbody tr[data-test="vserver-row"][data-id="' + id + '"]');
	}

	function vsDetailOf(id) {
		return $('vserver-table').querySelector('tbody tr[data-test="vserver-detail"][data-id="' + id + '"]');
	}

	function vserverRow(v) {
		var tr = el('tr', { cls: 'vs-row', data: { id: String(v.id), test: 'vserver-row', state: v.state } });
		var name = td(v.name, 'strong');
		/* the guest's addresses as the node learned them (ARP/NDP), under its name */
		if (v.ips && v.ips.length)
			name.appendChild(el('div', { text: v.ips.join(', '), cls: 'vs-ips', data: { test: 'vserver-ips' } }));
		tr.appendChild(name);
		tr.appendChild(td(accountName(v.account_id)));
		tr.appendChild(td(v.cores, 'num'));
		tr.appendChild(td(fmtMB(v.ram_mb), 'num'));
		tr.appendChild(td(v.disk_gb + ' GB', 'num'));
		var st = td('', 'state-cell');
		var b = badge(v.state, STATE_KIND[v.state] || 'plain');
		b.dataset.test = 'vserver-state';
		st.appendChild(b);
		if (vs.busy[v.id])
			st.appendChild(el('span', { cls: 'spinner', title: 'task ' + vs.busy[v.id] + ' running' }));
		if (v.error)
			st.appendChild(el('div', { text: v.error, cls: 'state-error', data: { test: 'vserver-error' } }));
		tr.appendChild(st);
		tr.appendChild(td(fmtTime(v.created_at), 'time'));

		var act = td('', 'actions');
		var box = el('div', { cls: 'row-actions' });
		var power = el('span', { cls: 'btn-group' });
		var edit = el('span', { cls: 'btn-group' });
		var busy = !!vs.busy[v.id];
		ACTIONS.forEach(function (a) {
			if (a.states.indexOf(v.state) < 0 || !hasPriv(a.priv))
				return;
			var b = btn(a.text, a.act === 'start' || a.act === 'resume' || a.act === 'unpark' ?
				'btn-go' : 'btn-light', 'vs-' + a.act);
			b.disabled = busy;
			b.addEventListener('click', function () { vsAction(v, a.act); });
			power.appendChild(b);
		});
		if (hasPriv('vserver.edit')) {
			[['resize', 'Resize\u2026'], ['iso', 'ISO\u2026']].forEach(function (x) {
				var b = btn(x[1], 'btn-light' + (vs.open[v.id] === x[0] ? ' btn-pressed' : ''),
					'vs-open-' + x[0]);
				b.setAttribute('aria-expanded', vs.open[v.id] === x[0] ? 'true' : 'false');
				b.addEventListener('click', function () { toggleDetail(v.id, x[0]); });
				edit.appendChild(b);
			});
			var del = btn('Delete', 'btn-danger-light', 'vserver-delete');
			del.disabled = busy;
			del.addEventListener('click', function () { vsDelete(v); });
			edit.appendChild(del);
		}
		if (hasPriv('stats.view')) {
			var sb = btn('Statistics\u2026', 'btn-light' + (vs.open[v.id] === 'stats' ?
				' btn-pressed' : ''), 'vs-open-stats');
			sb.setAttribute('aria-expanded', vs.open[v.id] === 'stats' ? 'true' : 'false');
			sb.addEventListener('click', function () { toggleDetail(v.id, 'stats'); });
			edit.appendChild(sb);
		}
		if (hasPriv('vserver.console') && (v.state === 'running' || v.state === 'paused')) {
			/* A fresh one-time ticket per click; the console page reads it from the URL's
			 * fragment, which never reaches a server log. */
			var cb = btn('Console', 'btn-light', 'vs-console');
			cb.addEventListener('click', function () {
				call('vserver-console-ticket', { id: v.id }).then(function (t) {
					if (t)
						window.open(t.url, '_blank', 'noopener');
				}).catch(function () {}); /* shown in the error bar */
			});
			power.appendChild(cb);
		}
		[power, edit].forEach(function (g) {
			if (g.firstChild)
				box.appendChild(g);
		});
		act.appendChild(box);
		tr.appendChild(act);
		return tr;
	}

	/* The statistics row under a vServer: its graphs (/stats/vserver/ID/METRIC.png) for a range. */
	var STATS_METRICS = ['cpu', 'memory', 'disk', 'diskops', 'net', 'packets'];
	function vserverStats(v) {
		var tr = el('tr', { cls: 'vs-detail', data: { id: String(v.id), test: 'vserver-stats' } });
		var cell = el('td');
		cell.colSpan = 8;
		var bar = el('div', { cls: 'detail-form' });
		bar.appendChild(el('strong', { text: 'Statistics', cls: 'detail-title' }));
		var sel = el('select', { data: { test: 'stats-range' } });
		['day', 'week', 'month', 'year'].forEach(function (r) {
			var o = el('option', { text: r });
			o.value = r;
			sel.appendChild(o);
		});
		sel.value = vs.statsRange || 'day';
		bar.appendChild(sel);
		var close = btn('Close', 'btn-link', 'detail-close');
		close.addEventListener('click', function () { toggleDetail(v.id, 'stats'); });
		bar.appendChild(close);
		cell.appendChild(bar);
		var grid = el('div', { cls: 'stats-graphs', data: { test: 'stats-graphs' } });
		function draw() {
			clear(grid);
			STATS_METRICS.forEach(function (m) {
				var img = el('img', { data: { test: 'stats-' + m } });
				img.alt = m + ' (' + sel.value + ')';
				img.loading = 'lazy';
				img.src = '/stats/vserver/' + v.id + '/' + m + '.png?range=' + sel.value;
				img.addEventListener('error', function () {
					grid.replaceChild(el('p', { cls: 'empty', text: m +
						': no statistics yet' }), img);
				});
				grid.appendChild(img);
			});
		}
		sel.addEventListener('change', function () {
			vs.statsRange = sel.value;
			draw();
		});
		draw();
		cell.appendChild(grid);
		tr.appendChild(cell);
		return tr;
	}

	/* The form row under a vServer: resize or ISO. It never contains the name (row filters). */
	function vserverDetail(v, which) {
		if (which === 'stats')
			return vserverStats(v);
		var tr = el('tr', { cls: 'vs-detail', data: { id: String(v.id), test: 'vserver-detail' } });
		var cell = el('td');
		cell.colSpan = 8;
		var form = el('form', { cls: 'detail-form' });
		form.noValidate = false;
		function field(label, input) {
			var l = el('label');
			l.appendChild(el('span', { text: label }));
			l.appendChild(input);
			form.appendChild(l);
		}
		function num(test, value, min, max, step) {
			var i = el('input', { data: { test: test } });
			i.type = 'number';
			i.min = String(min);
			i.max = String(max);
			if (step)
				i.step = String(step);
			i.required = true;
			i.value = String(value);
			return i;
		}
		if (which === 'resize') {
			form.appendChild(el('strong', { text: 'Resize', cls: 'detail-title' }));
			var cores = num('resize-cores', v.cores, 1, 256);
			var ram = num('resize-ram', v.ram_mb, 64, 4194304, 64);
			var disk = num('resize-disk', v.disk_gb, v.disk_gb, 65536);
			field('Cores', cores);
			field('RAM (MB)', ram);
			field('Disk (GB)', disk);
			var ok = btn('Apply', 'btn-primary', 'resize-apply');
			ok.type = 'submit';
			form.appendChild(ok);
			var running = v.state === 'running' || v.state === 'paused';
			form.appendChild(el('span', { cls: 'hint', text: running ?
				'Cores and RAM change only when it is stopped; the disk grows online.' :
				'Disks only grow.' }));
			form.addEventListener('submit', function (ev) {
				ev.preventDefault();
				var p = { id: v.id };
				var want = { cores: parseInt(cores.value, 10), ram_mb: parseInt(ram.value, 10),
					disk_gb: parseInt(disk.value, 10) };
				Object.keys(want).forEach(function (k) {
					if (!isNaN(want[k]) && want[k] !== vs.byId[v.id][k])
						p[k] = want[k];
				});
				if (Object.keys(p).length === 1) {
					notice('Nothing to change');
					return;
				}
				vsResize(v, p, ok);
			});
		} else {
			form.appendChild(el('strong', { text: 'CD-ROM', cls: 'detail-title' }));
			var sel = el('select', { data: { test: 'iso-select' } });
			sel.appendChild(el('option', { text: 'loading\u2026' }));
			sel.disabled = true;
			field('Image', sel);
			var att = btn('Attach ISO', 'btn-primary', 'vs-attach-iso');
			att.type = 'submit';
			att.disabled = true;
			form.appendChild(att);
			var det = btn('Detach ISO', 'btn-light', 'vs-detach-iso');
			form.appendChild(det);
			form.appendChild(el('span', { cls: 'hint', text: v.state === 'running' ?
				'Changes the medium of the running guest.' : 'Takes effect at the next start.' }));
			loadIsos().then(function (items) {
				clear(sel);
				if (!items.length) {
					sel.appendChild(el('option', { text: '(no images in the library)' }));
					return;
				}
				items.forEach(function (i) {
					var o = el('option', { text: i.name + ' (' + fmtBytes(i.size_bytes) + ')' });
					o.value = String(i.id);
					sel.appendChild(o);
				});
				sel.disabled = false;
				att.disabled = false;
			}).catch(function () {
				clear(sel);
				sel.appendChild(el('option', { text: '(cannot list images)' }));
			});
			form.addEventListener('submit', function (ev) {
				ev.preventDefault();
				if (sel.disabled || !sel.value)
					return;
				vsTaskCall(v, 'attach-iso', { id: v.id, iso_id: parseInt(sel.value, 10) });
			});
			det.addEventListener('click', function () {
				vsTaskCall(v, 'detach-iso', { id: v.id });
			});
		}
		var close = btn('Close', 'btn-link', 'detail-close');
		close.addEventListener('click', function () { toggleDetail(v.id, which); });
		form.appendChild(close);
		cell.appendChild(form);
		tr.appendChild(cell);
		return tr;
	}

	function fmtBytes(n) {
		if (n === null || n === undefined)
			return '';
		var u = ['B', 'KB', 'MB', 'GB', 'TB'], i = 0;
		while (n >= 1024 && i < u.length - 1) {
			n /= 1024;
			i++;
		}
		return (i === 0 || n >= 100 ? Math.round(n) : Math.round(n * 10) / 10) + ' ' + u[i];
	}

	function loadIsos() {
		return call('iso-list', {}).then(function (r) {
			vs.isos = r.items;
			return r.items;
		});
	}

	/* (Re)draws one vServer's rows in place; v === null removes them. */
	function putVserver(id, v) {
		var old = vsRowOf(id), oldDetail = vsDetailOf(id);
		var tb = $('vserver-table').tBodies[0];
		if (!v) {
			delete vs.byId[id];
			delete vs.open[id];
			if (old)
				tb.removeChild(old);
			if (oldDetail)
				tb.removeChild(oldDetail);
			show($('vserver-empty'), tb.rows.length === 0);
			return;
		}
		vs.byId[id] = v;
		var tr = vserverRow(v);
		if (old)
			tb.replaceChild(tr, old);
		else
			tb.appendChild(tr);
		if (oldDetail)
			tb.removeChild(oldDetail);
		if (vs.open[id])
			tb.insertBefore(vserverDetail(v, vs.open[id]), tr.nextSibling);
	}

	function toggleDetail(id, which) {
		vs.open[id] = vs.open[id] === which ? null : which;
		if (!vs.open[id])
			delete vs.open[id];
		putVserver(id, vs.byId[id]);
		var d = vsDetailOf(id);
		if (d) {
			var f = d.querySelector('input, select');
			if (f)
				f.focus();
		}
	}

	/* Fetches one vServer again after its task ended (gone: its rows go). */
	function refreshVserver(id) {
		return api('vserver-get', { id: id }).then(function (v) {
			putVserver(id, v);
		}, function (e) {
			if (e.code === 'not_found')
				putVserver(id, null);
			else
				showError(e.message);
		});
	}

	/* ---- progress lines ---- */

	function progressLine(v, act, taskId) {
		var line = el('div', { cls: 'progress-line running', data: { task: String(taskId), test: 'progress-line' } });
		line.appendChild(el('span', { cls: 'spinner' }));
		line.appendChild(el('span', { cls: 'progress-text',
			text: (VERBS[act] || act) + ' ' + v.name + ' \u2026 task ' + taskId }));
		var st = el('span', { cls: 'progress-status' });
		line.appendChild(st);
		var x = el('button', { text: '\u00d7', cls: 'progress-close' });
		x.type = 'button';
		x.setAttribute('aria-label', 'Dismiss');
		x.addEventListener('click', function () {
			if (line.parentNode)
				line.parentNode.removeChild(line);
		});
		line.appendChild(x);
		$('task-progress').appendChild(line);
		return line;
	}

	function endLine(line, t) {
		line.classList.remove('running');
		line.classList.add(t.status === 'done' ? 'done' : 'failed');
		var sp = line.querySelector('.spinner');
		if (sp)
			sp.parentNode.removeChild(sp);
		var st = line.querySelector('.progress-status');
		clear(st);
		st.appendChild(badge(t.status, STATUS_KIND[t.status] || 'plain'));
		if (t.info)
			st.appendChild(el('span', { text: t.info, cls: 'progress-info' }));
		setTimeout(function () {
			if (line.parentNode)
				line.parentNode.removeChild(line);
		}, t.status === 'done' ? 6000 : 15000);
	}

	/* Polls task-get every second until the task is done or failed. */
	function followTask(v, act, taskId) {
		var line = progressLine(v, act, taskId);
		var misses = 0;
		vs.busy[v.id] = taskId;
		if (vs.byId[v.id])
			putVserver(v.id, vs.byId[v.id]);
		function finish(t) {
			if (vs.busy[v.id] === taskId)
				delete vs.busy[v.id];
			endLine(line, t);
			if (t.status === 'failed' || t.status === 'error')
				showError(v.name + ': ' + t.action + ' failed: ' + (t.info || 'no reason given'));
			else
				notice(v.name + ': ' + t.action + ' done' + (t.info ? ' (' + t.info + ')' : ''));
			refreshVserver(v.id);
			if (state.tab === 'tasks')
				loadTasks();
		}
		function poll() {
			if (!state.me) {   /* logged out meanwhile */
				delete vs.busy[v.id];
				return;
			}
			api('task-get', { id: taskId }).then(function (t) {
				misses = 0;
				if (t.status === 'done' || t.status === 'failed' || t.status === 'error')
					finish(t);
				else
					setTimeout(poll, 1000);
			}, function (e) {
				if (e.code === 'unauthenticated') {
					delete vs.busy[v.id];
					return;
				}
				if (++misses >= 10) {
					finish({ status: 'error', action: 'vserver-' + act,
						info: 'lost track of task ' + taskId + ': ' + e.message });
					return;
				}
				setTimeout(poll, 1000);
			});
		}
		setTimeout(poll, 1000);
	}

	/* Runs a lifecycle call; a {task_id} answer is followed, an object answer redraws the row. */
	function vsTaskCall(v, act, params) {
		clearError();
		return call('vserver-' + act, params).then(function (r) {
			if (r && r.task_id) {
				followTask(v, act, r.task_id);
				return r;
			}
			if (r && r.id) {
				if (act === 'delete') {
					notice('vServer ' + v.name + ' deleted');
					putVserver(v.id, null);
				} else {
					notice('vServer ' + v.name + ': ' + act + ' done');
					putVserver(v.id, r);
				}
			}
			return r;
		}).catch(function () { /* shown in the error bar */ });
	}

	function vsAction(v, act) {
		return vsTaskCall(v, act, { id: v.id });
	}

	function vsResize(v, p, button) {
		button.disabled = true;
		vsTaskCall(v, 'resize', p).then(function (r) {
			button.disabled = false;
			if (r && r.id) {
				delete vs.open[v.id];
				putVserver(v.id, r);
			}
		});
	}

	function vsDelete(v) {
		if (!window.confirm('Delete vServer "' + v.name + '"? Its disk is destroyed.'))
			return;
		vsTaskCall(v, 'delete', { id: v.id });
	}

	function loadVservers() {
		return call('vserver-list', {}).then(function (r) {
			var tb = $('vserver-table').tBodies[0];
			clear(tb);
			vs.byId = {};
			r.items.sort(function (x, y) { return x.name.localeCompare(y.name); });
			r.items.forEach(function (v) { putVserver(v.id, v); });
			Object.keys(vs.open).forEach(function (id) {
				if (!vs.byId[id])
					delete vs.open[id];
			});
			show($('vserver-empty'), r.items.length === 0);
		}).catch(function () {});
	}

	function onVserverCreate(ev) {
		ev.preventDefault();
		clearError();
		var p = {
			account_id: parseInt($('vs-account').value, 10),
			name: $('vs-name').value.trim(),
			cores: parseInt($('vs-cores').value, 10),
			ram_mb: parseInt($('vs-ram').value, 10),
			disk_gb: parseInt($('vs-disk').value, 10)
		};
		call('vserver-create', p).then(function (v) {
			notice('vServer ' + v.name + ' created');
			$('vs-name').value = '';
			return loadVservers();
		}).catch(function () {});
	}

	/* ---------- users ---------- */

	function loadUsers() {
		return call('user-list', {}).then(function (r) {
			var tb = $('user-table').tBodies[0];
			clear(tb);
			r.items.sort(function (x, y) { return x.username.localeCompare(y.username); });
			r.items.forEach(function (u) {
				var tr = el('tr', { data: { id: String(u.id), test: 'user-row' } });
				tr.appendChild(td(u.username, 'strong'));
				tr.appendChild(td(u.display_name || ''));
				tr.appendChild(td(u.email || ''));
				tr.appendChild(td(accountName(u.account_id)));
				tr.appendChild(td(u.totp_enabled ? 'on' : 'off'));
				var st = td('');
				st.appendChild(u.enabled ? badge('enabled', 'ok') : badge('disabled', 'bad'));
				tr.appendChild(st);
				tr.appendChild(td(fmtTime(u.created_at), 'time'));
				var act = td('', 'actions');
				if (hasPriv('user.manage') && state.me && u.id !== state.me.user.id) {
					var del = el('button', { text: 'Delete', cls: 'btn btn-small btn-danger-light' });
					del.type = 'button';
					del.dataset.test = 'user-delete';
					del.addEventListener('click', function () {
						if (!window.confirm('Delete user "' + u.username + '"?'))
							return;
						call('user-delete', { id: u.id }).then(function () {
							notice('User ' + u.username + ' deleted');
							loadUsers();
						}).catch(function () {});
					});
					act.appendChild(del);
				}
				tr.appendChild(act);
				tb.appendChild(tr);
			});
		}).catch(function () {});
	}

	function onUserCreate(ev) {
		ev.preventDefault();
		clearError();
		var p = {
			account_id: parseInt($('usr-account').value, 10),
			username: $('usr-username').value.trim(),
			password: $('usr-password').value
		};
		var dn = $('usr-display').value.trim();
		var em = $('usr-email').value.trim();
		if (dn)
			p.display_name = dn;
		if (em)
			p.email = em;
		if ($('usr-role').value)
			p.role = $('usr-role').value;
		call('user-create', p).then(function (u) {
			notice('User ' + u.username + ' created');
			$('usr-username').value = '';
			$('usr-password').value = '';
			$('usr-display').value = '';
			$('usr-email').value = '';
			return loadUsers();
		}).catch(function () {});
	}

	/* ---------- nodes and the ISO library (the provider's staff) ---------- */

	var NODE_KIND = { online: 'ok', offline: 'bad', dead: 'bad', 'new': 'plain' };

	function nodeToggle(n, field, label) {
		var wrap = el('label', { cls: 'switch' });
		var cb = el('input', { data: { test: 'node-' + field } });
		cb.type = 'checkbox';
		cb.checked = !!n[field];
		cb.setAttribute('aria-label', label + ' ' + n.name);
		var txt = el('span', { text: n[field] ? 'on' : 'off' });
		cb.addEventListener('change', function () {
			clearError();
			var p = { id: n.id };
			p[field] = cb.checked;
			cb.disabled = true;
			call('node-update', p).then(function (nn) {
				notice('Node ' + nn.name + ': ' + label.toLowerCase() + ' ' + (nn[field] ? 'on' : 'off'));
				var old = $('node-table').querySelector('tbody tr[data-id="' + nn.id + '"]');
				if (old)
					old.parentNode.replaceChild(nodeRow(nn), old);
			}).catch(function () {
				cb.checked = !cb.checked;
				cb.disabled = false;
			});
		});
		wrap.appendChild(cb);
		wrap.appendChild(txt);
		return wrap;
	}

	function nodeRow(n) {
		var tr = el('tr', { data: { id: String(n.id), test: 'node-row' } });
		tr.appendChild(td(n.name, 'strong'));
		var st = td('');
		st.appendChild(badge(n.state, NODE_KIND[n.state] || 'plain'));
		if (n.accel)
			st.appendChild(el('span', { text: ' ' + n.accel, cls: 'muted' }));
		tr.appendChild(st);
		var ded = n.dedicated ? n.dedicated.length : null;
		tr.appendChild(td(n.used_cores + ' / ' + (ded === null ? '\u2013' : ded), 'num'));
		tr.appendChild(td(n.ram_mb === null || n.ram_mb === undefined ? '\u2013' : fmtMB(n.ram_mb), 'num'));
		var r = td('');
		var m = td('');
		if (hasPriv('account.manage')) {
			r.appendChild(nodeToggle(n, 'reserve', 'Reserve'));
			m.appendChild(nodeToggle(n, 'maintenance', 'Maintenance'));
		} else {
			r.textContent = n.reserve ? 'on' : 'off';
			m.textContent = n.maintenance ? 'on' : 'off';
		}
		tr.appendChild(r);
		tr.appendChild(m);
		tr.appendChild(td(n.last_seen ? fmtTime(n.last_seen) : 'never', 'time'));
		return tr;
	}

	function loadNodes() {
		var nodes = call('node-list', {}).then(function (r) {
			var tb = $('node-table').tBodies[0];
			clear(tb);
			r.items.forEach(function (n) { tb.appendChild(nodeRow(n)); });
			show($('node-empty'), r.items.length === 0);
		}).catch(function () {});
		return Promise.all([nodes, loadIsoTable()]);
	}

	function loadIsoTable() {
		show($('iso-rescan'), hasPriv('image.manage'));
		return loadIsos().then(function (items) {
			var tb = $('iso-table').tBodies[0];
			clear(tb);
			items.forEach(function (i) {
				var tr = el('tr', { data: { id: String(i.id), test: 'iso-row' } });
				tr.appendChild(td(i.name, 'strong'));
				tr.appendChild(td(fmtBytes(i.size_bytes), 'num'));
				tr.appendChild(td(i.account_id ? accountName(i.account_id) : 'everybody (public)'));
				tb.appendChild(tr);
			});
			show($('iso-empty'), items.length === 0);
		}).catch(function () {});
	}

	function onIsoRescan() {
		clearError();
		var b = $('iso-rescan');
		b.disabled = true;
		call('iso-rescan', {}).then(function (r) {
			notice('ISO library: ' + r.registered + ' registered, ' + r.removed + ' removed');
			return loadIsoTable();
		}).catch(function () {}).then(function () { b.disabled = false; });
	}

	function hideJoinBox() {
		show($('join-box'), false);
		$('join-token').textContent = '';
		$('join-cmd').textContent = '';
	}

	function onJoinCreate(ev) {
		ev.preventDefault();
		clearError();
		var name = $('join-node-name').value.trim();
		call('node-join-token-create', { name: name }).then(function (r) {
			$('join-name').textContent = r.name;
			$('join-expires').textContent = fmtTime(r.expires_at);
			$('join-token').textContent = r.token;
			$('join-cmd').textContent = 'webrack-node join https://' + location.host + ' ' + r.token +
				' --ca /etc/webrack/controller.pem';
			show($('join-box'), true);
			$('join-node-name').value = '';
		}).catch(function () {});
	}

	/* ---------- job log ---------- */

	var STATUS_KIND = { done: 'ok', running: 'run', queued: 'plain', failed: 'bad', error: 'bad' };

	function loadTasks() {
		return call('task-list', { limit: 200 }).then(function (r) {
			var tb = $('task-table').tBodies[0];
			clear(tb);
			r.items.forEach(function (t) {
				var tr = el('tr', { data: { id: String(t.id), test: 'task-row' } });
				tr.appendChild(td(t.type || t.object_type || ''));
				tr.appendChild(td(t.object_name || (t.object_id ? '#' + t.object_id : ''), 'strong'));
				var act = td('', 'nowrap');
				act.appendChild(el('span', { text: t.action }));
				act.appendChild(document.createTextNode(' '));
				act.appendChild(el('span', { text: '(' + (t.username || 'system') + ')', cls: 'muted' }));
				tr.appendChild(act);
				tr.appendChild(td(fmtTime(t.started_at), 'time'));
				tr.appendChild(td(fmtTime(t.ended_at), 'time'));
				var st = td('');
				st.appendChild(badge(t.status, STATUS_KIND[t.status] || 'plain'));
				tr.appendChild(st);
				tr.appendChild(td(t.info || ''));
				tb.appendChild(tr);
			});
			show($('task-empty'), r.items.length === 0);
		}).catch(function () {});
	}

	/* ---------- audit ---------- */

	function loadAudit() {
		return call('audit-list', { limit: 200 }).then(function (r) {
			var tb = $('audit-table').tBodies[0];
			clear(tb);
			r.items.forEach(function (a) {
				var tr = el('tr', { data: { id: String(a.id), test: 'audit-row' } });
				tr.appendChild(td(fmtTime(a.at), 'time'));
				var ev = td('');
				ev.appendChild(badge(a.event, /fail|denied/.test(a.event) ? 'bad' : 'plain'));
				tr.appendChild(ev);
				tr.appendChild(td(a.username || (a.user_id ? '#' + a.user_id : '')));
				tr.appendChild(td(a.object_type ? a.object_type + ' #' + a.object_id : ''));
				tr.appendChild(td(a.client_ip || ''));
				tr.appendChild(td(a.detail || ''));
				tb.appendChild(tr);
			});
		}).catch(function () {});
	}

	/* ---------- API tokens ---------- */

	function fillTokenPrivs() {
		var sel = $('tok-privs');
		clear(sel);
		ALL_PRIVS.filter(hasPriv).forEach(function (p) {
			var o = el('option', { text: p });
			o.value = p;
			sel.appendChild(o);
		});
	}

	function loadTokens() {
		return call('token-list', {}).then(function (r) {
			var tb = $('token-table').tBodies[0];
			clear(tb);
			r.items.forEach(function (t) {
				var tr = el('tr', { data: { id: String(t.id), test: 'token-row' } });
				tr.appendChild(td(t.name, 'strong'));
				tr.appendChild(td(t.privileges ? t.privileges.join(', ') : 'all of yours'));
				tr.appendChild(td(fmtTime(t.created_at), 'time'));
				tr.appendChild(td(fmtTime(t.expires_at), 'time'));
				tr.appendChild(td(t.last_used_at ? fmtTime(t.last_used_at) : 'never', 'time'));
				var act = td('', 'actions');
				var rv = el('button', { text: 'Revoke', cls: 'btn btn-small btn-danger-light' });
				rv.type = 'button';
				rv.dataset.test = 'token-revoke';
				rv.addEventListener('click', function () {
					call('token-revoke', { id: t.id }).then(function () {
						notice('Token ' + t.name + ' revoked');
						show($('token-secret-box'), false);
						loadTokens();
					}).catch(function () {});
				});
				act.appendChild(rv);
				tr.appendChild(act);
				tb.appendChild(tr);
			});
			show($('token-empty'), r.items.length === 0);
		}).catch(function () {});
	}

	function onTokenCreate(ev) {
		ev.preventDefault();
		clearError();
		var p = { name: $('tok-name').value.trim() };
		var days = intOrNull('tok-days');
		if (days !== undefined)
			p.expires_days = days;
		var privs = Array.prototype.slice.call($('tok-privs').selectedOptions)
			.map(function (o) { return o.value; });
		if (privs.length)
			p.privileges = privs;
		call('token-create', p).then(function (r) {
			$('token-secret-name').textContent = r.token.name;
			$('token-secret').textContent = r.secret;
			show($('token-secret-box'), true);
			$('tok-name').value = '';
			return loadTokens();
		}).catch(function () {});
	}

	/* ---------- security (TOTP) ---------- */

	function loadSecurity() {
		var on = !!(state.me && state.me.user.totp_enabled);
		$('sec-totp-state').textContent = on ? 'enabled' : 'not enabled';
		$('sec-totp-state').className = on ? 'state-on' : 'state-off';
		show($('sec-enrol-start'), !on);
		show($('sec-enrol'), false);
		show($('sec-disable-form'), on);
		return Promise.resolve();
	}

	function refreshMe() {
		return call('whoami', {}).then(function (me) {
			state.me = me;
			state.privs = me.account_privileges || [];
		});
	}

	function onSecEnrol() {
		clearError();
		call('totp-enrol', {}).then(function (r) {
			$('sec-qr').src = 'data:image/png;base64,' + r.qr_png_base64;
			$('sec-secret').textContent = r.secret_base32;
			show($('sec-enrol-start'), false);
			show($('sec-enrol'), true);
			$('sec-confirm-code').focus();
		}).catch(function () {});
	}

	function onSecConfirm(ev) {
		ev.preventDefault();
		clearError();
		call('totp-confirm', { code: $('sec-confirm-code').value.trim() }).then(function () {
			$('sec-confirm-code').value = '';
			notice('TOTP enabled');
			return refreshMe().then(loadSecurity);
		}).catch(function () {});
	}

	function onSecDisable(ev) {
		ev.preventDefault();
		clearError();
		call('totp-disable', { code: $('sec-disable-code').value.trim() }).then(function () {
			$('sec-disable-code').value = '';
			notice('TOTP disabled');
			return refreshMe().then(loadSecurity);
		}).catch(function () {});
	}

	var loaders = {
		vservers: loadVservers,
		accounts: function () { return loadAccounts().then(renderAccounts); },
		users: loadUsers,
		tasks: loadTasks,
		audit: loadAudit,
		tokens: loadTokens,
		nodes: loadNodes,
		security: loadSecurity
	};

	/* ---------- login forms ---------- */

	function onLogin(ev) {
		ev.preventDefault();
		clearError();
		setCsrf(null);
		var btn = $('login-submit');
		btn.disabled = true;
		call('login', {
			username: $('login-username').value.trim(),
			password: $('login-password').value
		}).then(function (res) {
			$('login-password').value = '';
			return afterLogin(res);
		}).catch(function () {
			$('login-password').value = '';
			$('login-password').focus();
		}).then(function () { btn.disabled = false; });
	}

	function onTotp(ev) {
		ev.preventDefault();
		clearError();
		call('login-totp', { code: $('totp-code').value.trim() }).then(function (res) {
			$('totp-code').value = '';
			if (res.csrf_token)
				setCsrf(res.csrf_token);
			return enterApp();
		}).catch(function () { $('totp-code').value = ''; });
	}

	function onEnrolConfirm(ev) {
		ev.preventDefault();
		clearError();
		call('totp-confirm', { code: $('enrol-code').value.trim() }).then(function () {
			$('enrol-code').value = '';
			return enterApp();
		}).catch(function () { $('enrol-code').value = ''; });
	}

	function onLogout() {
		clearError();
		api('logout', {}).catch(function () { /* gone anyway */ }).then(toLogin);
	}

	/* ---------- start ---------- */

	function init() {
		$('login-form').addEventListener('submit', onLogin);
		$('totp-form').addEventListener('submit', onTotp);
		$('totp-cancel').addEventListener('click', onLogout);
		$('enrol-form').addEventListener('submit', onEnrolConfirm);
		$('enrol-cancel').addEventListener('click', onLogout);
		$('logout-btn').addEventListener('click', onLogout);
		$('error-close').addEventListener('click', clearError);
		$('vserver-form').addEventListener('submit', onVserverCreate);
		$('account-form').addEventListener('submit', onAccountCreate);
		$('acc-parent').addEventListener('change', updateAccountTypeChoices);
		$('user-form').addEventListener('submit', onUserCreate);
		$('token-form').addEventListener('submit', onTokenCreate);
		$('sec-enrol-btn').addEventListener('click', onSecEnrol);
		$('sec-confirm-form').addEventListener('submit', onSecConfirm);
		$('sec-disable-form').addEventListener('submit', onSecDisable);
		$('join-form').addEventListener('submit', onJoinCreate);
		$('join-done').addEventListener('click', hideJoinBox);
		$('iso-rescan').addEventListener('click', onIsoRescan);
		tabButtons().forEach(function (b) {
			b.addEventListener('click', function () { clearError(); selectTab(b.dataset.tab); });
		});
		document.querySelectorAll('[data-refresh]').forEach(function (b) {
			b.addEventListener('click', function () { clearError(); loaders[b.dataset.refresh](); });
		});

		/*
		 * Restore a session after a reload. whoami on a cookie session needs the CSRF
		 * token, which the page keeps in sessionStorage (per tab, same origin only).
		 */
		try { state.csrf = sessionStorage.getItem(CSRF_KEY); } catch (e) { state.csrf = null; }
		api('whoami', {}).then(function (me) {
			if (me.csrf_token)
				setCsrf(me.csrf_token);
			if (me.totp_required) {
				authView('totp');
				return;
			}
			if (me.totp_enrol_required) {
				startEnrolment();
				return;
			}
			return enterApp();
		}).catch(function () {
			setCsrf(null);
			authView('login');
		});
	}

	document.addEventListener('DOMContentLoaded', init);
}());
