/*
 * The JSON binding of the operation table: POST /api/v1/<op> with a JSON object in and
 * {"ok":..., "result"|"error":...} out. Used by the portal and by scripts.
 */
#ifndef WEBRACK_API_JSON_H
#define WEBRACK_API_JSON_H

struct server;
struct evhttp_request;

void api_json_handle(struct server *srv, struct evhttp_request *req, const char *op_name);

#endif
