/*
 * The JSON binding of the operation table: POST /api/v1/<op> with a JSON object in and
 * {"ok":..., "result"|"error":...} out. Used by the portal and by scripts.
 */
#ifndef WEBRACK_API_JSON_H
#define WEBRACK_API_JSON_H

#include "call.h"

struct server;
struct evhttp_request;

void api_json_handle(struct server *srv, struct evhttp_request *req, const char *op_name);

/* For other routes that run a call over HTTP (the statistics graphs): */
/* The client address, session cookie, bearer token and CSRF header of req into c. */
void api_json_take_credentials(struct call *c, struct evhttp_request *req);
/* An error answer {"ok": false, "error": {code, message}} with the code's HTTP status. */
void api_json_send_error(struct evhttp_request *req, enum api_error err, const char *message);
/* Free a call created by such a route (after its answer went out). */
void api_json_call_free(struct call *c);

#endif
