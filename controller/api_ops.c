/*
 * The operation table. One row per operation: name, summary, flags, parameter schema, result, and
 * handler. Everything that exposes operations (JSON, SOAP, WSDL, wrctl, docs/API.md) reads it.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "api_ops.h"
#include "api_results.h"
#include "ops.h"
#include "soap_wsdl.h"

#define ID_MAX	  9223372036854775807LL
#define QUOTA_MAX 2147483647LL

static const char *const account_types[] = {"reseller", "customer", NULL};

#define P_ID(name, req, doc)                                                                       \
	{                                                                                          \
		name, PARAM_INT, req, false, 1, ID_MAX, NULL, doc                                  \
	}
#define P_STR(name, req, lo, hi, doc)                                                              \
	{                                                                                          \
		name, PARAM_STRING, req, false, lo, hi, NULL, doc                                  \
	}
#define P_QUOTA(name, doc)                                                                         \
	{                                                                                          \
		name, PARAM_INT, false, true, 0, QUOTA_MAX, NULL, doc                              \
	}
#define P_BOOL(name, doc)                                                                          \
	{                                                                                          \
		name, PARAM_BOOL, false, false, 0, 0, NULL, doc                                    \
	}
#define P_CODE                                                                                     \
	{                                                                                          \
		"code", PARAM_STRING, true, false, 6, 6, NULL, "6-digit TOTP code"                 \
	}

static const struct param p_none[] = {PARAM_END};
static const struct param p_id[] = {P_ID("id", true, "object id"), PARAM_END};

static const struct param p_login[] = {
	P_STR("username", true, 1, 64, "user name"),
	{"password", PARAM_SECRET, true, false, 1, 1024, NULL, "password"},
	{"totp", PARAM_STRING, false, false, 6, 6, NULL, "TOTP code, to log in in one step"},
	PARAM_END,
};
static const struct param p_code[] = {P_CODE, PARAM_END};
static const struct param p_totp_disable[] = {
	{"code", PARAM_STRING, false, false, 6, 6, NULL, "current code (required for yourself)"},
	P_ID("user_id", false, "another user (needs user.manage)"),
	PARAM_END,
};

#define QUOTAS                                                                                     \
	P_QUOTA("quota_cores", "dedicated cores (null = unlimited)"),                              \
		P_QUOTA("quota_ram_mb", "RAM in MB (null = unlimited)"),                           \
		P_QUOTA("quota_disk_gb", "disk in GB (null = unlimited)"),                         \
		P_QUOTA("quota_vservers", "number of vServers (null = unlimited)")

static const struct param p_account_create[] = {
	P_ID("parent_id", true, "parent account"),
	P_STR("name", true, 1, 128, "display name, unique among siblings"),
	{"type", PARAM_ENUM, true, false, 0, 0, account_types, "reseller or customer"},
	QUOTAS,
	P_BOOL("require_2fa", "users must use TOTP"),
	PARAM_END,
};
static const struct param p_account_list[] = {P_ID("parent_id", false, "only children of"),
					      PARAM_END};
static const struct param p_account_update[] = {
	P_ID("id", true, "account"),
	P_STR("name", false, 1, 128, "new name"),
	QUOTAS,
	P_BOOL("require_2fa", "users must use TOTP"),
	P_BOOL("enabled", "false locks every user of the account and its subtree out"),
	PARAM_END,
};

static const struct param p_user_create[] = {
	P_ID("account_id", true, "account the user belongs to"),
	P_STR("username", true, 2, 64, "login name (letters, digits, . _ @ -), unique"),
	{"password", PARAM_SECRET, true, false, 1, 1024, NULL, "at least 10 characters"},
	P_STR("email", false, 3, 254, "e-mail address"),
	P_STR("display_name", false, 1, 128, "full name"),
	{"role", PARAM_ENUM, false, false, 0, 0, api_roles, "role granted on the account"},
	PARAM_END,
};
static const struct param p_user_list[] = {P_ID("account_id", false, "only users of"), PARAM_END};
static const struct param p_user_update[] = {
	P_ID("id", true, "user"),
	{"email", PARAM_STRING, false, true, 3, 254, NULL, "e-mail address (null clears)"},
	{"display_name", PARAM_STRING, false, true, 1, 128, NULL, "full name (null clears)"},
	P_BOOL("enabled", "false locks the user out and ends its sessions"),
	PARAM_END,
};
static const struct param p_user_set_password[] = {
	P_ID("id", true, "user"),
	{"password", PARAM_SECRET, true, false, 1, 1024, NULL, "new password"},
	{"old_password", PARAM_SECRET, false, false, 1, 1024, NULL,
	 "current password (required for yourself)"},
	PARAM_END,
};

static const struct param p_grant[] = {
	P_ID("user_id", true, "grantee"),
	{"scope_type", PARAM_ENUM, true, false, 0, 0, api_scopes, "account, vdc or vserver"},
	P_ID("scope_id", true, "id of the account, vDataCenter or vServer"),
	{"role", PARAM_ENUM, true, false, 0, 0, api_roles, "admin, operator, user or viewer"},
	PARAM_END,
};
static const struct param p_grant_list[] = {P_ID("user_id", false, "only grants of"), PARAM_END};

static const struct param p_token_create[] = {
	P_STR("name", true, 1, 64, "what the token is for"),
	{"expires_days", PARAM_INT, false, false, 1, 365, NULL, "lifetime in days (default 90)"},
	{"privileges", PARAM_ENUMSET, false, false, 1, 12, api_privileges,
	 "restrict the token to these privileges"},
	PARAM_END,
};

static const struct param p_vdc_create[] = {
	P_ID("account_id", true, "owner account"),
	P_STR("name", true, 1, 128, "name"),
	PARAM_END,
};
static const struct param p_by_account[] = {P_ID("account_id", false, "only of account"),
					    PARAM_END};
static const struct param p_vserver_create[] = {
	P_ID("account_id", true, "owner account"),
	P_STR("name", true, 1, 63, "host name (letters, digits, . _ -)"),
	{"cores", PARAM_INT, true, false, 1, 256, NULL, "dedicated cores"},
	{"ram_mb", PARAM_INT, true, false, 64, 4194304, NULL, "RAM in MB"},
	{"disk_gb", PARAM_INT, true, false, 1, 65536, NULL, "disk in GB"},
	P_ID("vdc_id", false, "place in this vDataCenter"),
	P_STR("template", false, 1, 63,
	      "template image on the node's storage; the disk is a copy-on-write child of it"),
	{"nic_model", PARAM_ENUM, false, false, 0, 0, api_nic_models, "virtio (default) or e1000"},
	P_STR("anti_affinity", false, 1, 63, "group: never two of its vServers on one node"),
	P_BOOL("failover",
	       "true: restarted on another node (reserve nodes first) when its node dies"),
	PARAM_END,
};
static const struct param p_vserver_update[] = {
	P_ID("id", true, "vServer"),
	P_BOOL("failover",
	       "true: restarted on another node (reserve nodes first) when its node dies"),
	PARAM_END,
};

static const struct param p_node_token[] = {
	P_STR("name", true, 1, 63, "node name (lower-case letters, digits, -)"),
	PARAM_END,
};
static const struct param p_node_join[] = {
	{"token", PARAM_SECRET, true, false, 10, 128, NULL, "one-time join token"},
	{"csr_pem", PARAM_TEXT, true, false, 100, 16384, NULL,
	 "PEM certificate request, CN = node name"},
	PARAM_END,
};
static const struct param p_node_update[] = {
	P_ID("id", true, "node"),
	P_BOOL("maintenance", "true: place nothing new on this node"),
	P_BOOL("reserve", "true: keep free for failover"),
	{"vdc_id", PARAM_INT, false, true, 1, ID_MAX, NULL,
	 "dedicate to this vDataCenter (null: shared)"},
	PARAM_END,
};

static const struct param p_shutdown[] = {
	P_ID("id", true, "vServer"),
	{"timeout", PARAM_INT, false, false, 5, 3600, NULL,
	 "seconds to wait for the guest to power off (default 60); it is never forced"},
	PARAM_END,
};

static const struct param p_resize[] = {
	P_ID("id", true, "vServer"),
	{"cores", PARAM_INT, false, false, 1, 256, NULL, "dedicated cores (stopped vServers only)"},
	{"ram_mb", PARAM_INT, false, false, 64, 4194304, NULL, "RAM in MB (stopped only)"},
	{"disk_gb", PARAM_INT, false, false, 1, 65536, NULL, "disk in GB (grow only; online)"},
	PARAM_END,
};

static const struct param p_ips_allocate[] = {
	P_ID("id", true, "vServer"),
	{"addresses", PARAM_ARRAY, true, false, 0, 64, NULL,
	 "the allocated IPv4/IPv6 addresses (replaces the list; empty: no allocation)"},
	PARAM_END,
};
static const struct param p_attach_iso[] = {
	P_ID("id", true, "vServer"),
	P_ID("iso_id", true, "an image of iso-list"),
	PARAM_END,
};
static const struct param p_migrate[] = {
	P_ID("id", true, "vServer"),
	P_ID("node_id", false, "target node (default: the scheduler picks one)"),
	{"downtime_ms", PARAM_INT, false, false, 1, 60000, NULL,
	 "longest pause of the guest at the switch-over (default 100)"},
	{"bandwidth_mbps", PARAM_INT, false, false, 0, 1000000, NULL,
	 "transfer cap in Mbit/s (default 0 = unlimited)"},
	{"converge_seconds", PARAM_INT, false, false, 0, 86400, NULL,
	 "bound for the copy phase, then post-copy or cancel (default 120, 0 = none)"},
	P_BOOL("postcopy", "switch to post-copy at the bound instead of cancelling"),
	P_BOOL("auto_converge", "throttle a guest that dirties memory too fast (default true)"),
	PARAM_END,
};

static const struct param p_task_list[] = {
	{"limit", PARAM_INT, false, false, 1, 1000, NULL, "rows (default 100)"},
	{"offset", PARAM_INT, false, false, 0, 100000, NULL, "rows to skip"},
	P_STR("object_type", false, 1, 32, "only tasks about this kind of object"),
	P_ID("object_id", false, "only tasks about this object"),
	PARAM_END,
};
static const struct param p_task_wait[] = {
	P_ID("id", true, "task"),
	{"timeout_seconds", PARAM_INT, false, false, 0, 300, NULL,
	 "longest wait in seconds (default 60); 0 answers at once"},
	PARAM_END,
};
static const struct param p_audit_list[] = {
	{"limit", PARAM_INT, false, false, 1, 1000, NULL, "rows (default 100)"},
	{"offset", PARAM_INT, false, false, 0, 100000, NULL, "rows to skip"},
	P_ID("before_id", false, "only events older than this id"),
	P_STR("event", false, 1, 64, "only this event (e.g. login.failed)"),
	PARAM_END,
};

static const char *const stats_kinds[] = {"vserver", "node", NULL};
static const char *const stats_ranges[] = {"day", "week", "month", "year", NULL};
static const struct param p_stats_get[] = {
	{"kind", PARAM_ENUM, true, false, 0, 0, stats_kinds, "vserver or node"},
	P_ID("id", true, "the vServer or node"),
	P_STR("metric", true, 1, 32,
	      "vserver: cpu, memory, disk, diskops, net, packets; node: cpu, load, memory, net, "
	      "packets"),
	{"range", PARAM_ENUM, false, false, 0, 0, stats_ranges, "day (default), week, month, year"},
	PARAM_END,
};

#define M OP_MUTATES

const struct op api_ops[] = {
	{"login", "Log in; sets the session cookie and returns the CSRF token",
	 OP_PUBLIC | OP_NO_CSRF | OP_NO_SOAP, p_login,
	 "user, csrf_token, totp_required, totp_enrol_required", op_login, r_login},
	{"login-totp", "Complete a login with the second factor; rotates the session",
	 OP_PENDING_OK | OP_NO_SOAP, p_code, "user, csrf_token", op_login_totp, r_login},
	{"logout", "End the session", OP_PENDING_OK | OP_ENROL_OK | OP_NO_SOAP, p_none, "{}",
	 op_logout, r_empty},
	{"whoami", "The caller: user, account, grants, privileges",
	 OP_PENDING_OK | OP_ENROL_OK | OP_NO_CSRF, p_none,
	 "user, account, grants, auth, account_privileges", op_whoami, r_whoami},

	{"totp-enrol", "Start TOTP enrolment: secret, otpauth URI and QR code", M | OP_ENROL_OK,
	 p_none, "otpauth_uri, secret_base32, qr_png_base64", op_totp_enrol, r_totp_enrol},
	{"totp-confirm", "Finish TOTP enrolment with a first code", M | OP_ENROL_OK, p_code,
	 "totp_enabled", op_totp_confirm, r_totp_state},
	{"totp-disable", "Switch TOTP off (own: with a code; other user: user.manage)", M,
	 p_totp_disable, "totp_enabled", op_totp_disable, r_totp_state},

	{"account-create", "Create a reseller or customer account", M, p_account_create, "account",
	 op_account_create, r_account},
	{"account-list", "Accounts the caller may see", 0, p_account_list, "items: [account]",
	 op_account_list, r_account_items},
	{"account-get", "One account", 0, p_id, "account", op_account_get, r_account},
	{"account-update", "Rename, set quotas, require 2FA, enable/disable", M, p_account_update,
	 "account", op_account_update, r_account},
	{"account-delete", "Delete an empty account (no children, no vServers)", M, p_id, "account",
	 op_account_delete, r_account},

	{"user-create", "Create a user, optionally with a role on its account", M, p_user_create,
	 "user", op_user_create, r_user},
	{"user-list", "Users the caller may see", 0, p_user_list, "items: [user]", op_user_list,
	 r_user_items},
	{"user-get", "One user", 0, p_id, "user", op_user_get, r_user},
	{"user-update", "Change e-mail, display name, enabled", M, p_user_update, "user",
	 op_user_update, r_user},
	{"user-delete", "Delete a user", M, p_id, "user", op_user_delete, r_user},
	{"user-set-password", "Set a password (own: needs the old one)", M, p_user_set_password,
	 "user", op_user_set_password, r_user},

	{"grant", "Give a user a role on an account, vDataCenter or vServer", M, p_grant, "grant",
	 op_grant, r_grant},
	{"revoke", "Take a grant back", M, p_id, "grant", op_revoke, r_grant},
	{"grant-list", "Grants the caller may see", 0, p_grant_list, "items: [grant]",
	 op_grant_list, r_grant_items},

	{"token-create", "Create an API token (the secret is shown once)", M, p_token_create,
	 "token, secret", op_token_create, r_token_created},
	{"token-list", "The caller's API tokens", 0, p_none, "items: [token]", op_token_list,
	 r_token_items},
	{"token-revoke", "Revoke one of the caller's tokens", M, p_id, "token", op_token_revoke,
	 r_token},

	{"vdc-create", "Assign a vDataCenter to an account", M, p_vdc_create, "vdc", op_vdc_create,
	 r_vdc},
	{"vdc-list", "vDataCenters the caller may see", 0, p_by_account, "items: [vdc]",
	 op_vdc_list, r_vdc_items},
	{"vdc-get", "One vDataCenter", 0, p_id, "vdc", op_vdc_get, r_vdc},
	{"vdc-delete", "Remove an empty vDataCenter", M, p_id, "vdc", op_vdc_delete, r_vdc},

	{"vserver-create", "Define a vServer within the account's quotas", M, p_vserver_create,
	 "vserver", op_vserver_create, r_vserver},
	{"vserver-list", "vServers the caller may see", 0, p_by_account, "items: [vserver]",
	 op_vserver_list, r_vserver_items},
	{"vserver-get", "One vServer", 0, p_id, "vserver", op_vserver_get, r_vserver},
	{"vserver-update", "Change a vServer's settings (failover)", M, p_vserver_update, "vserver",
	 op_vserver_update, r_vserver},
	{"vserver-delete",
	 "Delete a vServer: at once when it never ran, else as a task (stop, undefine, disk)", M,
	 p_id, "vserver, or task_id and status", op_vserver_delete, r_vserver_or_task},
	{"vserver-start", "Start (placing it on a node and creating its disk the first time)", 0,
	 p_id, "task_id, status", op_vserver_power, r_task_queued},
	{"vserver-shutdown", "ACPI power-off; fails (and leaves it running) after the timeout", 0,
	 p_shutdown, "task_id, status", op_vserver_power, r_task_queued},
	{"vserver-stop", "Hard power-off (alias: destroy)", 0, p_id, "task_id, status",
	 op_vserver_power, r_task_queued},
	{"vserver-reset", "Hard reset", 0, p_id, "task_id, status", op_vserver_power,
	 r_task_queued},
	{"vserver-pause", "Freeze the vCPUs", 0, p_id, "task_id, status", op_vserver_power,
	 r_task_queued},
	{"vserver-resume", "Continue a paused vServer", 0, p_id, "task_id, status",
	 op_vserver_power, r_task_queued},
	{"vserver-park", "Release the cores and RAM of a stopped vServer (it keeps its disk)", 0,
	 p_id, "task_id, status", op_vserver_placement, r_task_queued},
	{"vserver-unpark", "Place a parked vServer again (stopped)", 0, p_id, "task_id, status",
	 op_vserver_placement, r_task_queued},

	{"node-join-token-create", "A one-time token for `webrack-node join` (valid one hour)", M,
	 p_node_token, "name, token, expires_at", op_node_join_token_create, r_node_join_token},
	{"node-join", "Exchange a join token and a CSR for a node certificate",
	 OP_PUBLIC | OP_NO_CSRF, p_node_join, "node_id, name, cert_pem, ca_pem, agent_listen",
	 op_node_join, r_node_join},
	{"node-list", "Rack servers with their capacity and state", 0, p_none, "items: [node]",
	 op_node_list, r_node_items},
	{"node-get", "One rack server", 0, p_id, "node", op_node_get, r_node},
	{"node-update", "Set maintenance, reserve or the owning vDataCenter", M, p_node_update,
	 "node", op_node_update, r_node},

	{"vserver-resize", "Change cores and RAM (when stopped) or grow the disk (also online)", M,
	 p_resize, "vserver, or task_id and status when the disk grows", op_vserver_resize,
	 r_vserver_or_task},
	{"iso-rescan", "Register the *.iso files found in iso_dir (provider)", M, p_none,
	 "registered, removed", op_iso_rescan, r_iso_rescan},
	{"iso-list", "ISO images the caller may attach", 0, p_none, "items: [iso]", op_iso_list,
	 r_iso_items},
	{"vserver-attach-iso", "Put an ISO into the vServer's CD-ROM drive (live when running)", 0,
	 p_attach_iso, "task_id, status", op_vserver_attach_iso, r_task_queued},
	{"vserver-detach-iso", "Empty the vServer's CD-ROM drive", 0, p_id, "task_id, status",
	 op_vserver_attach_iso, r_task_queued},
	{"vserver-migrate", "Live-migrate a running vServer to another node (alias: migrate)", 0,
	 p_migrate, "task_id, status", op_vserver_migrate, r_task_queued},
	{"vserver-migrate-cancel", "Cancel the vServer's running migration; it stays where it runs",
	 M, p_id, "task_id, status", op_vserver_migrate_cancel, r_task_queued},
	{"vserver-console-ticket",
	 "A one-time console ticket (<= 60 s): browser URL, and VeNCrypt host:port with the ticket "
	 "as password",
	 0, p_id, "ticket, expires_in, url, vencrypt_host, vencrypt_port",
	 op_vserver_console_ticket, r_console_ticket},

	{"task-list", "The job log, newest first", 0, p_task_list, "items: [task]", op_task_list,
	 r_task_items},
	{"task-get", "One task", 0, p_id, "task", op_task_get, r_task},
	{"task-wait", "Wait until a task is done or failed, at most timeout_seconds", 0,
	 p_task_wait, "task (as task-get; still queued or running when the time ran out)",
	 op_task_wait, r_task},
	{"audit-list", "The audit log, newest first", 0, p_audit_list, "items: [audit event]",
	 op_audit_list, r_audit_items},
	{"vserver-ips",
	 "Guest addresses learned from ARP/NDP (stale after ip_stale_after), "
	 "allocated addresses and spoof attempts",
	 0, p_id,
	 "id, items: [{address, family, scope, tentative, first_seen, last_seen, stale}], "
	 "allocated, spoofs",
	 op_vserver_ips, r_vserver_ips},
	{"vserver-ips-allocate", "Set the addresses a vServer may claim (provider staff)", M,
	 p_ips_allocate, "id, name, allocated", op_vserver_ips_allocate, r_vserver_ips_allocated},

	/* Points may be null (no sample): no result schema can say that, so an open type. */
	{"stats-get", "Statistics of a vServer or node as numbers (the series behind a graph)", 0,
	 p_stats_get, "start, end, step, metric, series: [{name, points: [number or null]}]",
	 op_stats_get, NULL},

	{NULL, NULL, 0, NULL, NULL, NULL},
};

const struct op *
api_op_find(const char *name)
{
	for (const struct op *op = api_ops; op->name != NULL; op++)
		if (strcmp(op->name, name) == 0)
			return op;
	return NULL;
}

static void
write_choices(FILE *out, const char *const *choices)
{
	for (size_t i = 0; choices[i] != NULL; i++)
		fprintf(out, "%s`%s`", i ? ", " : " (", choices[i]);
	fputs(")", out);
}

/* A request body with every required parameter, for the reference's examples. */
static void
write_example(FILE *out, const struct op *op)
{
	bool first = true;

	fprintf(out,
		"Example:\n\n```\ncurl -X POST https://HOST:8443/api/v1/%s \\\n"
		"     -H 'Authorization: Bearer wrt_...' -d '{",
		op->name);
	for (const struct param *p = op->params; p->name != NULL; p++) {
		if (!p->required)
			continue;
		fprintf(out, "%s\"%s\": ", first ? "" : ", ", p->name);
		first = false;
		switch (p->type) {
		case PARAM_INT:
			fprintf(out, "%lld", p->min > 1 ? p->min : 1);
			break;
		case PARAM_BOOL:
			fputs("true", out);
			break;
		case PARAM_ENUM:
			fprintf(out, "\"%s\"", p->choices[0]);
			break;
		case PARAM_ENUMSET:
			fprintf(out, "[\"%s\"]", p->choices[0]);
			break;
		case PARAM_OBJECT:
			fputs("{}", out);
			break;
		case PARAM_ARRAY:
		case PARAM_INTLIST:
			fputs("[]", out);
			break;
		case PARAM_STRING:
		case PARAM_SECRET:
		case PARAM_TEXT:
			fputs(strcmp(p->name, "code") == 0 ? "\"123456\"" : "\"example-text\"",
			      out);
			break;
		}
	}
	fputs("}'\n```\n\n", out);
}

void
api_ops_write_markdown(FILE *out)
{
	fputs("# webrack API reference\n\n"
	      "Generated by `webrackd --dump-api` from the operation table "
	      "(controller/api_ops.c); do not edit.\n\n"
	      "Every operation is `POST /api/v1/<name>` with a JSON object body. Answers are "
	      "`{\"ok\": true, \"result\": ...}` or `{\"ok\": false, \"error\": {\"code\", "
	      "\"message\"}}`; see docs/ARCHITECTURE.md for the error codes, authentication and "
	      "rights.\n\n"
	      "The same operations are offered over SOAP 1.1 (document/literal) at `POST /soap`; "
	      "the WSDL is at `GET /soap?wsdl` and installed as webrack.wsdl. Each operation below "
	      "names its SOAP operation and shows an example request; faults and WS-Security are "
	      "described in docs/ARCHITECTURE.md (SOAP binding).\n\n",
	      out);
	for (const struct op *op = api_ops; op->name != NULL; op++) {
		fprintf(out, "## %s\n\n%s.\n\n", op->name, op->summary);
		if (op->flags & OP_PUBLIC)
			fputs("No authentication.\n\n", out);
		if (op->flags & OP_MUTATES)
			fputs("Changes state: writes a task row and an audit row.\n\n", out);
		if (op->params[0].name != NULL) {
			fputs("| parameter | type | required | constraints | description |\n"
			      "|---|---|---|---|---|\n",
			      out);
			for (const struct param *p = op->params; p->name != NULL; p++) {
				fprintf(out, "| `%s` | %s%s | %s | ", p->name, schema_type_name(p),
					p->nullable ? " or null" : "", p->required ? "yes" : "no");
				if (p->type == PARAM_INT)
					fprintf(out, "%lld..%lld", p->min, p->max);
				else if (p->type == PARAM_STRING || p->type == PARAM_SECRET ||
					 p->type == PARAM_TEXT)
					fprintf(out, "%lld..%lld bytes", p->min, p->max);
				else if (p->choices != NULL)
					write_choices(out, p->choices);
				fprintf(out, " | %s |\n", p->doc);
			}
			fputs("\n", out);
		}
		fprintf(out, "Result: %s.\n\n", op->result);
		write_example(out, op);
		soap_wsdl_write_doc(out, op);
	}
}
