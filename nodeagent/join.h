/*
 * `webrack-node join URL TOKEN`: the one-time enrolment of a node. Creates the node key and a CSR
 * with CN = node name, trades them and the join token for a certificate at the controller's
 * public node-join operation, and stores node.key, node.crt and ca.crt in state_dir.
 */
#ifndef WEBRACK_JOIN_H
#define WEBRACK_JOIN_H

#include <stdbool.h>

struct agent_settings;

/* How the controller's HTTPS certificate is checked while the token is sent. */
struct join_options {
	const char *url;     /* https://controller:8443 */
	const char *token;   /* wrj_...; "-" reads it from standard input */
	const char *ca_file; /* verify against this CA instead of the system's */
	const char *pin;     /* "sha256//BASE64" public key pin (curl syntax) */
	bool insecure;	     /* --insecure-first-join: no verification, print the fingerprint */
};

/* Run the join; messages for the admin go to stderr/stdout. Exit status for main(). */
int join_run(const struct agent_settings *s, const struct join_options *opt);

#endif
