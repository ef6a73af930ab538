/*
 * The result schemas of the operation table, one per kind of object (mirroring the SQL in
 * objects.h, which builds the JSON) plus the small answers of single operations. Conventions in
 * api_results.h. test_soap_wsdl checks that the choice lists parse with rights.c's names.
 */
#include "config.h"

#include <stddef.h>

#include "api_results.h"

#define ID_MAX	  9223372036854775807LL
#define INT32_TOP 2147483647LL

static const char *const account_types[] = {"provider", "reseller", "customer", NULL};
const char *const api_roles[] = {"admin", "operator", "user", "viewer", NULL};
const char *const api_scopes[] = {"account", "vdc", "vserver", NULL};
const char *const api_nic_models[] = {"virtio", "e1000", NULL};
static const char *const node_states[] = {"new", "online", "offline", "dead", NULL};
static const char *const auth_kinds[] = {"session", "token", "password", NULL};
const char *const api_privileges[] = {"account.view",
				      "account.manage",
				      "user.manage",
				      "vserver.view",
				      "vserver.power",
				      "vserver.console",
				      "vserver.edit",
				      "vserver.migrate",
				      "image.manage",
				      "stats.view",
				      "task.view",
				      "audit.view",
				      NULL};
const char *const results_vserver_states[] = {"defined", "stopped",  "starting", "running",
					      "paused",	 "stopping", "parked",	 "deleting",
					      "error",	 NULL};
const char *const results_task_states[] = {"queued", "running", "done", "failed", NULL};

/* field(name, type, required, nullable, min, max, choices, sub) */
#define F(n, t, req, nul, lo, hi, ch, sub)                                                         \
	{                                                                                          \
		n, t, req, nul, lo, hi, ch, NULL, sub                                              \
	}
#define R_ID(n, req)		   F(n, PARAM_INT, req, false, 1, ID_MAX, NULL, NULL)
#define R_ID_NULL(n, req)	   F(n, PARAM_INT, req, true, 1, ID_MAX, NULL, NULL)
#define R_INT(n, req, lo, hi)	   F(n, PARAM_INT, req, false, lo, hi, NULL, NULL)
#define R_INT_NULL(n, req, lo, hi) F(n, PARAM_INT, req, true, lo, hi, NULL, NULL)
#define R_STR(n, req)		   F(n, PARAM_STRING, req, false, 0, 0, NULL, NULL)
#define R_STR_NULL(n, req)	   F(n, PARAM_STRING, req, true, 0, 0, NULL, NULL)
#define R_TEXT(n, req)		   F(n, PARAM_TEXT, req, false, 0, 0, NULL, NULL)
#define R_BOOL(n, req)		   F(n, PARAM_BOOL, req, false, 0, 0, NULL, NULL)
#define R_BOOL_NULL(n, req)	   F(n, PARAM_BOOL, req, true, 0, 0, NULL, NULL)
#define R_ENUM(n, req, ch)	   F(n, PARAM_ENUM, req, false, 0, 0, ch, NULL)
#define R_ENUMSET(n, ch)	   F(n, PARAM_ENUMSET, false, false, 0, 0, ch, NULL)
#define R_STRLIST(n)		   F(n, PARAM_ARRAY, false, false, 0, 0, NULL, NULL)
#define R_INTLIST(n)		   F(n, PARAM_INTLIST, false, false, 0, 0, NULL, NULL)
#define R_OBJ(n, req, sub)	   F(n, PARAM_OBJECT, req, false, 0, 0, NULL, sub)
#define R_LIST(n, sub)		   F(n, PARAM_ARRAY, false, false, 0, 0, NULL, sub)
#define R_END			   PARAM_END

const struct param r_empty[] = {R_END};

#define ACCOUNT_FIELDS                                                                             \
	R_ID("id", true), R_ID_NULL("parent_id", true), R_STR("name", true),                       \
		R_ENUM("type", true, account_types), R_INTLIST("path"),                            \
		R_INT_NULL("quota_cores", true, 0, INT32_TOP),                                     \
		R_INT_NULL("quota_ram_mb", true, 0, INT32_TOP),                                    \
		R_INT_NULL("quota_disk_gb", true, 0, INT32_TOP),                                   \
		R_INT_NULL("quota_vservers", true, 0, INT32_TOP), R_BOOL("require_2fa", true),     \
		R_BOOL("enabled", true), R_STR("created_at", true)
const struct param r_account[] = {ACCOUNT_FIELDS, R_END};
const struct param r_account_items[] = {R_LIST("items", r_account), R_END};

#define USER_FIELDS                                                                                \
	R_ID("id", true), R_ID("account_id", true), R_STR("username", true),                       \
		R_STR_NULL("email", true), R_STR_NULL("display_name", true),                       \
		R_BOOL("enabled", true), R_BOOL("totp_enabled", true), R_STR("created_at", true)
const struct param r_user[] = {USER_FIELDS, R_END};
const struct param r_user_items[] = {R_LIST("items", r_user), R_END};

const struct param r_grant[] = {
	R_ID("id", true),
	R_ID("user_id", true),
	R_ENUM("scope_type", true, api_scopes),
	R_ID("scope_id", true),
	R_ENUM("role", true, api_roles),
	R_STR("created_at", true),
	R_END,
};
const struct param r_grant_items[] = {R_LIST("items", r_grant), R_END};

const struct param r_token[] = {
	R_ID("id", true),
	R_STR("name", true),
	R_ENUMSET("privileges", api_privileges),
	R_STR("created_at", true),
	R_STR("expires_at", true),
	R_STR_NULL("last_used_at", true),
	R_END,
};
const struct param r_token_items[] = {R_LIST("items", r_token), R_END};
const struct param r_token_created[] = {R_OBJ("token", true, r_token), R_STR("secret", true),
					R_END};

const struct param r_vdc[] = {
	R_ID("id", true),
	R_ID("account_id", true),
	R_STR("name", true),
	R_STR("created_at", true),
	R_END,
};
const struct param r_vdc_items[] = {R_LIST("items", r_vdc), R_END};

/* req is false inside the union "vserver, or task_id and status". */
#define VSERVER_FIELDS(req)                                                                        \
	R_ID("id", req), R_ID("account_id", req), R_ID_NULL("vdc_id", req), R_STR("name", req),    \
		R_INT("cores", req, 1, 256), R_INT("ram_mb", req, 64, 4194304),                    \
		R_INT("disk_gb", req, 1, 65536), R_ENUM("state", req, results_vserver_states),     \
		R_ID_NULL("node_id", req), R_ENUM("nic_model", req, api_nic_models),               \
		R_STR_NULL("template", req), R_STR_NULL("anti_affinity", req),                     \
		R_STR_NULL("error", req), R_STR("created_at", req), R_STR_NULL("node", req),       \
		R_STRLIST("macs"), R_STR_NULL("iso", req), R_STRLIST("ips"),                       \
		R_BOOL("failover", req)
const struct param r_vserver[] = {VSERVER_FIELDS(true), R_END};
const struct param r_vserver_items[] = {R_LIST("items", r_vserver), R_END};
const struct param r_vserver_or_task[] = {
	VSERVER_FIELDS(false),
	R_ID("task_id", false),
	R_ENUM("status", false, results_task_states),
	R_END,
};

static const struct param r_storage[] = {
	R_STR("name", true),
	R_STR("path", true),
	R_BOOL("shared", true),
	R_INT_NULL("free_gb", true, 0, ID_MAX),
	R_END,
};
const struct param r_node[] = {
	R_ID("id", true),
	R_STR("name", true),
	R_ENUM("state", true, node_states),
	R_INT("epoch", true, 0, ID_MAX),
	R_INT_NULL("cores", true, 0, INT32_TOP),
	R_INTLIST("housekeeping"),
	R_INTLIST("dedicated"),
	R_INT("used_cores", true, 0, ID_MAX),
	R_INT_NULL("ram_mb", true, 0, ID_MAX),
	R_STRLIST("bridges"),
	R_STR_NULL("qemu_version", true),
	R_BOOL_NULL("kvm", true),
	R_STR_NULL("accel", true),
	R_BOOL("reserve", true),
	R_BOOL("maintenance", true),
	R_ID_NULL("vdc_id", true),
	R_STR_NULL("agent_version", true),
	R_STR_NULL("last_seen", true),
	R_LIST("storages", r_storage),
	R_STR("created_at", true),
	R_END,
};
const struct param r_node_items[] = {R_LIST("items", r_node), R_END};

const struct param r_task[] = {
	R_ID("id", true),
	R_STR("type", true),
	R_STR("object_type", true),
	R_ID_NULL("object_id", true),
	R_STR_NULL("object_name", true),
	R_STR("action", true),
	R_ID_NULL("user_id", true),
	R_STR_NULL("username", true),
	R_STR("started_at", true),
	R_STR_NULL("ended_at", true),
	R_ENUM("status", true, results_task_states),
	R_STR_NULL("info", true),
	R_STR_NULL("progress", false), /* live progress as JSON text (migrations) */
	R_END,
};
const struct param r_task_items[] = {R_LIST("items", r_task), R_END};
const struct param r_task_queued[] = {R_ID("task_id", true),
				      R_ENUM("status", true, results_task_states), R_END};

static const struct param r_audit[] = {
	R_ID("id", true),
	R_STR("at", true),
	R_ID_NULL("user_id", true),
	R_STR_NULL("username", true),
	R_STR("event", true),
	R_STR_NULL("object_type", true),
	R_ID_NULL("object_id", true),
	F("detail", PARAM_TEXT, true, true, 0, 0, NULL, NULL),
	R_STR_NULL("client_ip", true),
	R_END,
};
const struct param r_audit_items[] = {R_LIST("items", r_audit), R_END};

static const struct param r_iso[] = {
	R_ID("id", true),
	R_STR("name", true),
	R_INT("size_bytes", true, 0, ID_MAX),
	R_ID_NULL("account_id", true),
	R_END,
};
const struct param r_iso_items[] = {R_LIST("items", r_iso), R_END};
const struct param r_iso_rescan[] = {R_INT("registered", true, 0, ID_MAX),
				     R_INT("removed", true, 0, ID_MAX), R_END};

const struct param r_login[] = {
	R_OBJ("user", true, r_user),
	R_STR("csrf_token", true),
	R_BOOL("totp_required", false),
	R_BOOL("totp_enrol_required", false),
	R_END,
};
const struct param r_whoami[] = {
	R_OBJ("user", true, r_user),
	R_OBJ("account", true, r_account),
	R_LIST("grants", r_grant),
	R_ENUM("auth", true, auth_kinds),
	R_ENUMSET("account_privileges", api_privileges),
	R_BOOL("totp_required", true),
	R_BOOL("totp_enrol_required", true),
	R_STR("csrf_token", false),
	R_END,
};

const struct param r_totp_enrol[] = {
	R_STR("otpauth_uri", true),
	R_STR("secret_base32", true),
	R_STR_NULL("qr_png_base64", true),
	R_END,
};
const struct param r_totp_state[] = {R_BOOL("totp_enabled", true), R_END};

const struct param r_node_join_token[] = {R_STR("name", true), R_STR("expires_at", true),
					  R_STR("token", true), R_END};
const struct param r_node_join[] = {
	R_ID("node_id", true),	R_STR("name", true),	     R_TEXT("cert_pem", true),
	R_TEXT("ca_pem", true), R_STR("agent_listen", true), R_END,
};

/* vserver-ips and vserver-ips-allocate (controller/ops_ip.c). */
static const char *const ip_families[] = {"ipv4", "ipv6", NULL};
static const char *const ip_scopes[] = {"global", "link", NULL};
static const struct param r_guest_ip[] = {
	R_STR("address", true),
	R_ENUM("family", true, ip_families),
	R_ENUM("scope", true, ip_scopes),
	R_BOOL("tentative", true),
	R_STR("first_seen", true),
	R_STR("last_seen", true),
	R_BOOL("stale", true),
	R_END,
};
static const struct param r_guest_ip_spoof[] = {
	R_STR("address", true),
	R_INT("claims", true, 1, ID_MAX),
	R_STR("first_seen", true),
	R_STR("last_seen", true),
	R_END,
};
const struct param r_vserver_ips[] = {
	R_ID("id", true),
	R_LIST("items", r_guest_ip),
	R_STRLIST("allocated"),
	R_LIST("spoofs", r_guest_ip_spoof),
	R_END,
};
const struct param r_vserver_ips_allocated[] = {
	R_ID("id", true),
	R_STR("name", true),
	R_STRLIST("allocated"),
	R_END,
};

/* vserver-console-ticket (controller/ops_console.c). */
const struct param r_console_ticket[] = {
	R_STR("ticket", true),
	R_INT("expires_in", true, 1, 60),
	R_STR("url", true),
	R_STR_NULL("vencrypt_host", true),
	R_INT_NULL("vencrypt_port", true, 1, 65535),
	R_END,
};
