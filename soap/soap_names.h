/*
 * How the operation table's kebab-case names become SOAP names, in one place so that the WSDL,
 * the request dispatcher and docs/API.md agree:
 *
 *   operations: the verb goes first, the other words follow in order, lowerCamelCase:
 *               vserver-get -> getVServer, task-wait -> waitTask,
 *               vserver-attach-iso -> attachVServerIso, user-set-password -> setUserPassword;
 *               "list" also pluralises the last word (vserver-list -> listVServers);
 *               the verb is the LAST word found in soap_verbs[]; names without one are simply
 *               lowerCamelCase (whoami -> whoami, vserver-ips -> vserverIps)
 *   elements:   snake_case -> lowerCamelCase (timeout_seconds -> timeoutSeconds)
 *   the word "vserver" is written VServer, "vdc" VDC, "iso" ISO, "totp" TOTP inside a name.
 */
#ifndef WEBRACK_SOAP_NAMES_H
#define WEBRACK_SOAP_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#define SOAP_NAME_MAX 128

/* The SOAP operation name of a kebab-case operation; false if it does not fit. */
bool soap_op_name(const char *op, char *out, size_t outlen);

/* The element name of a snake_case parameter or result field; false if it does not fit. */
bool soap_element_name(const char *field, char *out, size_t outlen);

#endif
