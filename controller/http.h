/*
 * webrackd's HTTPS front: the listener (libevent evhttp over bufferevent_openssl), routing to the
 * API bindings, the portal's static files and the health check.
 */
#ifndef WEBRACK_HTTP_H
#define WEBRACK_HTTP_H

#include <stdbool.h>

struct server;
struct evhttp_request;

bool http_start(struct server *srv) __attribute__((warn_unused_result));
void http_stop_listening(struct server *srv);
void http_free(struct server *srv);

/* Headers every response carries. */
void http_add_security_headers(struct evhttp_request *req);

#endif
