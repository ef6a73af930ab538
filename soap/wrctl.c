/*
 * wrctl: the command line of webrack (main). Reads the configuration, parses the global
 * options, loads the operation description and hands the command to wrctl_cmd_run(). See
 * wrctl.h for the modules and man/wrctl.1 for the user's view.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "wrctl.h"
#include "wrctl_cmds.h"
#include "wrctl_config.h"
#include "wrctl_describe.h"
#include "wrctl_help.h"
#include "wrctl_http.h"

struct global_opts {
	const char *config;
	const char *url;
	const char *ca;
	const char *output;
	const char *user;
	const char *totp;
	long long wait_timeout;
	bool insecure, no_wait, refresh, help, version, help_config, complete;
};

/* Global options before the command; returns the index of the command word or -1. */
static int
parse_globals(int argc, char **argv, struct global_opts *g)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **slot = NULL;
		if (strcmp(a, "--complete") == 0) {
			g->complete = true;
			return i + 1;
		}
		if (a[0] != '-')
			return i;
		if (strcmp(a, "--config") == 0)
			slot = &g->config;
		else if (strcmp(a, "--url") == 0)
			slot = &g->url;
		else if (strcmp(a, "--ca") == 0)
			slot = &g->ca;
		else if (strcmp(a, "--user") == 0)
			slot = &g->user;
		else if (strcmp(a, "--totp") == 0)
			slot = &g->totp;
		else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0)
			slot = &g->output;
		else if (strncmp(a, "--output=", 9) == 0)
			g->output = a + 9;
		else if (strcmp(a, "--insecure") == 0)
			g->insecure = true;
		else if (strcmp(a, "--no-wait") == 0)
			g->no_wait = true;
		else if (strcmp(a, "--refresh") == 0)
			g->refresh = true;
		else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
			g->help = true;
		else if (strcmp(a, "--version") == 0)
			g->version = true;
		else if (strcmp(a, "--help-config") == 0)
			g->help_config = true;
		else if (strcmp(a, "--wait-timeout") == 0 && i + 1 < argc)
			g->wait_timeout = atoll(argv[++i]);
		else {
			wrctl_warn("unknown option '%s' (wrctl --help)", a);
			return -1;
		}
		if (slot != NULL) {
			if (i + 1 >= argc) {
				wrctl_warn("option '%s' needs a value", a);
				return -1;
			}
			*slot = argv[++i];
		}
	}
	return i;
}

static int
apply_globals(struct wrctl_config *cfg, const struct global_opts *g)
{
	if (g->url)
		wrctl_config_set(&cfg->url, g->url);
	if (g->ca)
		wrctl_config_set(&cfg->ca_file, g->ca);
	if (g->insecure)
		cfg->insecure = true;
	if (g->wait_timeout > 0)
		cfg->wait_timeout = g->wait_timeout;
	if (g->output != NULL) {
		if (strcmp(g->output, "table") == 0)
			cfg->output = WRCTL_OUT_TABLE;
		else if (strcmp(g->output, "json") == 0)
			cfg->output = WRCTL_OUT_JSON;
		else {
			wrctl_warn("--output takes table or json");
			return WRCTL_USAGE;
		}
	}
	return WRCTL_OK;
}

/*
 * The password for --user: $WEBRACK_PASSWORD, else one line of standard input (prompted for,
 * without echo, on a terminal). Never a command-line argument: those show in ps.
 */
static bool
read_password(char *buf, size_t len)
{
	const char *env = getenv("WEBRACK_PASSWORD");
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO) == 1;

	if (env != NULL && *env != '\0') {
		snprintf(buf, len, "%s", env);
		return true;
	}
	if (tty) {
		fputs("password: ", stderr);
		tcgetattr(STDIN_FILENO, &old);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
	}
	bool ok = fgets(buf, (int)len, stdin) != NULL;
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSANOW, &old);
		fputc('\n', stderr);
	}
	if (ok)
		buf[strcspn(buf, "\r\n")] = '\0';
	return ok && buf[0] != '\0';
}

/* --user: log in with a session for this run (e.g. to create the first API token). */
static int
login(struct wrctl_http *http, const struct global_opts *g)
{
	char password[1100];
	struct wrctl_reply r = {0};

	if (!read_password(password, sizeof(password))) {
		wrctl_warn("--user needs a password (WEBRACK_PASSWORD or standard input)");
		return WRCTL_USAGE;
	}
	wrctl_http_login(http, g->user, password, g->totp, &r);
	explicit_bzero(password, sizeof(password));
	int rc = r.exit;
	if (rc != WRCTL_OK)
		wrctl_warn("login: %s: %s", r.code, r.message);
	wrctl_reply_clear(&r);
	return rc;
}

int
main(int argc, char **argv)
{
	struct global_opts g = {0};
	struct wrctl_config cfg;
	struct wrctl_ops ops = {0};
	struct wrctl_reply r = {0};
	int rc;

	int cmd = parse_globals(argc, argv, &g);
	if (cmd < 0)
		return WRCTL_USAGE;
	if (g.version) {
		printf("wrctl %s\n", PACKAGE_VERSION);
		return WRCTL_OK;
	}
	if (g.help_config) {
		wrctl_config_print(stdout);
		return WRCTL_OK;
	}
	if (!wrctl_config_load(&cfg, g.config))
		return WRCTL_LOCAL;
	if ((rc = apply_globals(&cfg, &g)) != WRCTL_OK)
		goto out_cfg;

	if (g.user != NULL)
		wrctl_config_set(&cfg.token, NULL); /* a session instead of the token */
	struct wrctl_http *http = wrctl_http_new(&cfg);
	if (http == NULL) {
		wrctl_warn("cannot set up libcurl");
		rc = WRCTL_LOCAL;
		goto out_cfg;
	}
	const char *command = cmd < argc ? argv[cmd] : NULL;
	bool need_ops = !g.help || command != NULL;

	if (g.complete) {
		/* Completion must be quick and quiet: the cache, else one fetch, never a message.
		 */
		bool have =
			wrctl_ops_load(http, &cfg, false, true, &ops, &r) ||
			(wrctl_reply_clear(&r), wrctl_ops_load(http, &cfg, false, false, &ops, &r));
		wrctl_help_complete(stdout, have ? &ops : NULL, argc - cmd, argv + cmd);
		rc = WRCTL_OK;
		goto out_ops;
	}
	if (command == NULL && !g.help) {
		wrctl_help_usage(stderr, NULL);
		rc = WRCTL_USAGE;
		goto out_ops;
	}
	if (need_ops && !wrctl_ops_load(http, &cfg, g.refresh, false, &ops, &r)) {
		wrctl_warn("cannot read the operation table: %s: %s", r.code, r.message);
		rc = r.exit;
		goto out_ops;
	}
	if (g.help && command == NULL) {
		/* Help works without a controller; with one it also counts the operations. */
		bool have = wrctl_ops_load(http, &cfg, false, false, &ops, &r);
		wrctl_help_usage(stdout, have ? &ops : NULL);
		rc = WRCTL_OK;
	} else if (g.help || strcmp(command, "help") == 0) {
		const char *what = strcmp(command, "help") == 0
					   ? (cmd + 1 < argc ? argv[cmd + 1] : NULL)
					   : command;
		if (what == NULL) {
			wrctl_help_usage(stdout, &ops);
			rc = WRCTL_OK;
		} else {
			rc = wrctl_help_command(stdout, &ops, what);
		}
	} else if (strcmp(command, "ops") == 0) {
		wrctl_help_ops(stdout, &ops);
		rc = WRCTL_OK;
	} else if (g.user != NULL && (rc = login(http, &g)) != WRCTL_OK) {
		/* reported */
	} else {
		struct wrctl_ctx ctx = {&cfg,	http,  &ops, g.no_wait, isatty(STDERR_FILENO) == 1,
					stdout, stderr};
		rc = wrctl_cmd_run(&ctx, command, argc - cmd - 1, argv + cmd + 1);
		wrctl_http_logout(http);
	}
out_ops:
	wrctl_reply_clear(&r);
	wrctl_ops_free(&ops);
	wrctl_http_free(http);
out_cfg:
	wrctl_config_free(&cfg);
	if (fflush(stdout) != 0 && rc == WRCTL_OK)
		rc = WRCTL_LOCAL;
	return rc;
}
