/*
 * wrctl's configuration file and environment. The file holds the API token, so wrctl warns when
 * other users may read it (like ssh does for keys) but does not refuse: the token is the user's
 * to protect, and refusing would break read-only shared setups.
 */
#include "config.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conffile.h"
#include "wrctl.h"
#include "wrctl_config.h"

static const char *const outputs[] = {"table", "json", NULL};

static const struct config_key keys[] = {
	{"url", CONFIG_STRING, offsetof(struct wrctl_config, url), NULL, 0, 0, NULL, false,
	 "the controller, e.g. https://webrack.example.net:8443"},
	{"token", CONFIG_STRING, offsetof(struct wrctl_config, token), NULL, 0, 0, NULL, false,
	 "API token (token-create); keep this file private"},
	{"ca_file", CONFIG_PATH, offsetof(struct wrctl_config, ca_file), NULL, 0, 0, NULL, false,
	 "CA certificate(s) to verify the controller with (default: the system's)"},
	{"insecure", CONFIG_BOOL, offsetof(struct wrctl_config, insecure), "no", 0, 0, NULL, false,
	 "do not verify the controller's certificate (never in production)"},
	{"timeout", CONFIG_INT, offsetof(struct wrctl_config, timeout), "330", 5, 3600, NULL, false,
	 "seconds one HTTP request may take"},
	{"output", CONFIG_ENUM, offsetof(struct wrctl_config, output), "table", 0, 0, outputs,
	 false, "table or json"},
	{"wait_timeout", CONFIG_INT, offsetof(struct wrctl_config, wait_timeout), "900", 1, 86400,
	 NULL, false, "seconds to wait for a task before giving up (exit 6)"},
	CONFIG_END,
};

void
wrctl_config_set(char **slot, const char *value)
{
	free(*slot);
	*slot = value != NULL ? strdup(value) : NULL;
}

void
wrctl_config_default_path(char *buf, size_t len)
{
	const char *env = getenv("WRCTL_CONFIG");
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");

	if (env != NULL && *env != '\0')
		snprintf(buf, len, "%s", env);
	else if (xdg != NULL && *xdg == '/')
		snprintf(buf, len, "%s/webrack/wrctl.conf", xdg);
	else
		snprintf(buf, len, "%s/.config/webrack/wrctl.conf", home ? home : "");
}

static void
from_env(char **slot, const char *name)
{
	const char *v = getenv(name);

	if (v != NULL && *v != '\0')
		wrctl_config_set(slot, v);
}

bool
wrctl_config_load(struct wrctl_config *cfg, const char *file)
{
	struct config_errors errs = {0, stderr};
	char path[1024];
	struct stat st;

	memset(cfg, 0, sizeof(*cfg));
	if (!config_set_defaults(keys, cfg, &errs))
		return false;
	if (file == NULL) {
		wrctl_config_default_path(path, sizeof(path));
		if (stat(path, &st) == 0)
			file = path;
	}
	if (file != NULL) {
		if (stat(file, &st) == 0 && (st.st_mode & 077) != 0)
			wrctl_warn(
				"%s may be read by other users (it holds your token): chmod 600 it",
				file);
		if (!config_read_file(keys, cfg, file, &errs))
			return false;
	}
	from_env(&cfg->url, "WEBRACK_URL");
	from_env(&cfg->token, "WEBRACK_TOKEN");
	from_env(&cfg->ca_file, "WEBRACK_CA");
	const char *insecure = getenv("WEBRACK_INSECURE");
	if (insecure != NULL && *insecure != '\0')
		cfg->insecure = strcmp(insecure, "0") != 0 && strcmp(insecure, "no") != 0;
	return true;
}

void
wrctl_config_free(struct wrctl_config *cfg)
{
	config_free(keys, cfg);
}

void
wrctl_config_print(FILE *out)
{
	config_print_table(keys, out);
}
