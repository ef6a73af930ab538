/*
 * The SOAP binding over HTTPS: POST /soap runs an operation of the table (the same handlers,
 * rights and task/audit rows as the JSON binding), GET /soap?wsdl serves the generated WSDL.
 * Cookies are never read on /soap: a request authenticates itself with a Bearer API token or a
 * WS-Security UsernameToken, so there is no session to forge and no CSRF token.
 */
#ifndef WEBRACK_SOAP_HTTP_H
#define WEBRACK_SOAP_HTTP_H

struct server;
struct evhttp_request;

void soap_http_handle(struct server *srv, struct evhttp_request *req);

#endif
