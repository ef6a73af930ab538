/*
 * wrctl's configuration: ~/.config/webrack/wrctl.conf (or $WRCTL_CONFIG, or --config), then the
 * environment (WEBRACK_URL, WEBRACK_TOKEN, WEBRACK_CA, WEBRACK_INSECURE), then command-line
 * options, each overriding the one before. Read with the daemons' config table reader.
 */
#ifndef WEBRACK_WRCTL_CONFIG_H
#define WEBRACK_WRCTL_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

enum wrctl_output { WRCTL_OUT_TABLE = 0, WRCTL_OUT_JSON = 1 };

struct wrctl_config {
	char *url;		/* https://host:8443 */
	char *token;		/* API token (wrt_...) */
	char *ca_file;		/* CA bundle for the server's certificate */
	bool insecure;		/* do not verify the certificate (tests only) */
	long long timeout;	/* seconds per HTTP request */
	int output;		/* enum wrctl_output */
	long long wait_timeout; /* seconds to wait for a task */
};

/*
 * Defaults, then the file (an explicit file must exist; the default one may be missing), then the
 * environment. false with a message on stderr on any error.
 */
bool wrctl_config_load(struct wrctl_config *cfg, const char *file)
	__attribute__((warn_unused_result));

/* Replace one string setting (takes a copy). */
void wrctl_config_set(char **slot, const char *value);

/* The default file: $WRCTL_CONFIG or $XDG_CONFIG_HOME/webrack/wrctl.conf or ~/.config/... */
void wrctl_config_default_path(char *buf, size_t len);

void wrctl_config_free(struct wrctl_config *cfg);

/* "key = default  # help" for every key (wrctl --help-config). */
void wrctl_config_print(FILE *out);

#endif
