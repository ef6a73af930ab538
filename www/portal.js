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

	function loadVservers() {
		return call('vserver-list', {}).then(function (r) {
			var tb = $('vserver-table').tBodies[0];
			clear(tb);
			r.items.sort(function (x, y) { return x.name.localeCompare(y.name); });
			r.items.forEach(function (v) {
				var tr = el('tr', { data: { id: String(v.id), test: 'vserver-row' } });
				tr.appendChild(td(v.name, 'strong'));
				tr.appendChild(td(accountName(v.account_id)));
				tr.appendChild(td(v.cores, 'num'));
				tr.appendChild(td(fmtMB(v.ram_mb), 'num'));
				tr.appendChild(td(v.disk_gb + ' GB', 'num'));
				var st = td('');
				st.appendChild(badge(v.state, v.state === 'running' ? 'ok' : 'plain'));
				tr.appendChild(st);
				tr.appendChild(td(fmtTime(v.created_at), 'time'));
				var act = td('', 'actions');
				if (hasPriv('vserver.edit')) {
					var del = el('button', { text: 'Delete', cls: 'btn btn-small btn-danger-light' });
					del.type = 'button';
					del.dataset.test = 'vserver-delete';
					del.addEventListener('click', function () {
						if (!window.confirm('Delete vServer "' + v.name + '"?'))
							return;
						call('vserver-delete', { id: v.id }).then(function () {
							notice('vServer ' + v.name + ' deleted');
							loadVservers();
						}).catch(function () {});
					});
					act.appendChild(del);
				}
				tr.appendChild(act);
				tb.appendChild(tr);
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
