/*
 * Operation handlers, one group per file (ops_auth.c, ops_account.c, ...), listed here for the
 * operation table, plus the few helpers the handlers share.
 */
#ifndef WEBRACK_OPS_H
#define WEBRACK_OPS_H

#include "call.h"

/* Reply {"items": [...]} with the elements the caller may see (any privilege in need). */
void ops_reply_items(struct call *c, json_t *items, uint32_t need);
/*
 * List objects of the caller's own account subtree: sql gets $1 = the caller's account id and
 * $2 = the optional filter argument filter_arg; rows carry "_scope" and are filtered by need.
 */
void ops_list_subtree(struct call *c, const char *sql, const char *filter_arg, uint32_t need);
/* The same with $3 = extra (a value the statement needs besides the scope). */
void ops_list_subtree_with(struct call *c, const char *sql, const char *filter_arg, uint32_t need,
			   const char *extra);
/* The reply step of ops_list_subtree: filter by c->resolving.need and answer the items. */
void ops_subtree_listed(struct call *c, json_t *items);
/* Reply with the JSON the last statement produced; no row means the object is gone. */
void ops_reply_object(struct call *c, json_t *obj);
/* Reply with an object just created or changed: it becomes the task's object. */
void ops_reply_changed(struct call *c, json_t *obj);

/*
 * account.manage where shaping an account counts: on its parent (the provider: on itself). The
 * subject must be the account.
 */
bool ops_may_shape_account(struct call *c);
/*
 * Before creating an object inside the resolved container: name the task after the new object,
 * so that a failed creation (quota, duplicate) is logged as what the user tried to create.
 */
void ops_subject_new(struct call *c, const char *type, const char *name);

void op_login(struct call *c);
void op_login_totp(struct call *c);
void op_logout(struct call *c);
void op_whoami(struct call *c);

void op_totp_enrol(struct call *c);
void op_totp_confirm(struct call *c);
void op_totp_disable(struct call *c);

void op_account_create(struct call *c);
void op_account_list(struct call *c);
void op_account_get(struct call *c);
void op_account_update(struct call *c);
void op_account_delete(struct call *c);

void op_user_create(struct call *c);
void op_user_list(struct call *c);
void op_user_get(struct call *c);
void op_user_update(struct call *c);
void op_user_delete(struct call *c);
void op_user_set_password(struct call *c);

void op_grant(struct call *c);
void op_revoke(struct call *c);
void op_grant_list(struct call *c);

void op_token_create(struct call *c);
void op_token_list(struct call *c);
void op_token_revoke(struct call *c);

void op_vdc_create(struct call *c);
void op_vdc_list(struct call *c);
void op_vdc_get(struct call *c);
void op_vdc_delete(struct call *c);

void op_vserver_create(struct call *c);
void op_vserver_list(struct call *c);
void op_vserver_get(struct call *c);
void op_vserver_update(struct call *c);
void op_vserver_delete(struct call *c);
void op_vserver_ips(struct call *c);
void op_vserver_ips_allocate(struct call *c);

void op_node_join_token_create(struct call *c);
void op_node_join(struct call *c);
void op_node_list(struct call *c);
void op_node_get(struct call *c);
void op_node_update(struct call *c);

/* Lifecycle: queue a task and answer {task_id, status} at once. */
void op_vserver_power(struct call *c);	   /* start, shutdown, stop, reset, pause, resume */
void op_vserver_placement(struct call *c); /* park, unpark */
/* Queue the call's op as a lifecycle task for the resolved vServer (subject). */
void op_vserver_enqueue(struct call *c);
void op_vserver_migrate(struct call *c); /* ops_migrate.c */
void op_vserver_migrate_cancel(struct call *c);
void op_vserver_resize(struct call *c);

void op_iso_rescan(struct call *c);
void op_iso_list(struct call *c);
void op_vserver_attach_iso(struct call *c); /* attach (iso_id) and detach (no iso_id) */

void op_vserver_console_ticket(struct call *c);

void op_task_list(struct call *c);
void op_task_get(struct call *c);
void op_task_wait(struct call *c); /* ops_task_wait.c */
void op_audit_list(struct call *c);

void op_stats_get(struct call *c); /* ops_stats.c */

#endif
