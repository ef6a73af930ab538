/*
 * Help and completion for wrctl (see wrctl_help.h). The completion protocol is deliberately
 * dumb: the bash script passes the words typed so far and prints whatever comes back, so all the
 * knowledge (commands, parameters, choices) stays in one place, here.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "wrctl.h"
#include "wrctl_args.h"
#include "wrctl_cmds.h"
#include "wrctl_describe.h"
#include "wrctl_help.h"

#define POSITIONAL_MAX 16

static const char *const global_options[] = {
	"--url",	 "--ca",      "--user",		"--totp",    "--insecure", "--config",
	"--output",	 "--no-wait", "--wait-timeout", "--refresh", "--help",	   "--version",
	"--help-config", NULL,
};

void
wrctl_help_usage(FILE *out, const struct wrctl_ops *ops)
{
	fputs("usage: wrctl [OPTIONS] COMMAND [ARGS] [--param VALUE ...]\n"
	      "\n"
	      "Manage webrack vServers from the command line, virsh/xm style.\n"
	      "\n"
	      "Options (also after the command, unless the operation has such a parameter):\n"
	      "  --url URL            the controller (https://host:8443); or WEBRACK_URL\n"
	      "  --ca FILE            CA certificate to verify it with; or WEBRACK_CA\n"
	      "  --insecure           do not verify its certificate (tests only)\n"
	      "  --config FILE        instead of ~/.config/webrack/wrctl.conf\n"
	      "  --user NAME          log in as NAME instead of using the token (password from\n"
	      "                       WEBRACK_PASSWORD or standard input), e.g. to create one\n"
	      "  --totp CODE          the second factor for --user\n"
	      "  -o, --output FMT     table (default) or json\n"
	      "  --no-wait            return at once with the task id of a long operation\n"
	      "  --wait-timeout S     give up waiting for a task after S seconds (exit 6)\n"
	      "  --refresh            fetch the operation table again (it is cached 5 min)\n"
	      "  --help-config        the keys of wrctl.conf\n"
	      "The API token comes from wrctl.conf (token = ...) or WEBRACK_TOKEN.\n"
	      "\n"
	      "Commands (VS, NODE, ISO, USER: a name or an id):\n",
	      out);
	for (const struct wrctl_alias *a = wrctl_aliases; a->name != NULL; a++) {
		char syn[128];
		snprintf(syn, sizeof(syn), "%s %s", a->name, a->usage);
		fprintf(out, "  %-34s = %s\n", syn, a->op);
	}
	fputs("  help COMMAND                       synopsis and parameters of a command\n"
	      "  ops                                every operation of the controller\n"
	      "\n"
	      "Every operation of the controller is a command too: wrctl OPERATION --param VALUE\n"
	      "(required parameters may also be given in order, without their names).\n",
	      out);
	if (ops != NULL)
		fprintf(out, "This controller offers %zu operations (wrctl ops).\n", ops->n);
	fputs("\nExit codes: 0 ok, 1 usage, 2 invalid input, 3 unauthenticated or denied,\n"
	      "4 not found, 5 conflict or quota, 6 unavailable/busy/timeout, 7 task failed,\n"
	      "8 internal error, 9 local error (configuration, files). See wrctl(1).\n",
	      out);
}

void
wrctl_help_ops(FILE *out, const struct wrctl_ops *ops)
{
	for (size_t i = 0; i < ops->n; i++)
		fprintf(out, "%-26s %s\n", ops->ops[i].name, ops->ops[i].summary);
}

static void
placeholder(const struct param *p, char *buf, size_t len)
{
	size_t used = 0;

	switch (p->type) {
	case PARAM_INT:
		snprintf(buf, len, "N");
		return;
	case PARAM_STRING:
		snprintf(buf, len, "TEXT");
		return;
	case PARAM_SECRET:
		snprintf(buf, len, "SECRET|-");
		return;
	case PARAM_TEXT:
		snprintf(buf, len, "TEXT|@FILE");
		return;
	case PARAM_BOOL:
		snprintf(buf, len, "[true|false]");
		return;
	case PARAM_OBJECT:
	case PARAM_ARRAY:
		snprintf(buf, len, "JSON");
		return;
	case PARAM_INTLIST:
		snprintf(buf, len, "N,N,...");
		return;
	case PARAM_ENUM:
	case PARAM_ENUMSET:
		buf[0] = '\0';
		for (size_t i = 0; p->choices && p->choices[i] && used + 2 < len; i++) {
			snprintf(buf + used, len - used, "%s%s", i ? "|" : "", p->choices[i]);
			used = strlen(buf);
		}
		if (p->type == PARAM_ENUMSET && used + 5 < len)
			snprintf(buf + used, len - used, ",...");
		return;
	}
	snprintf(buf, len, "VALUE");
}

static void
constraints(const struct param *p, char *buf, size_t len)
{
	buf[0] = '\0';
	switch (p->type) {
	case PARAM_INT:
		snprintf(buf, len, "%lld..%lld", p->min, p->max);
		break;
	case PARAM_STRING:
	case PARAM_SECRET:
	case PARAM_TEXT:
		snprintf(buf, len, "%lld..%lld bytes", p->min, p->max);
		break;
	case PARAM_ENUMSET:
	case PARAM_ARRAY:
	case PARAM_INTLIST:
		snprintf(buf, len, "%lld..%lld entries", p->min, p->max);
		break;
	default:
		break;
	}
	if (p->nullable) {
		size_t used = strlen(buf);
		snprintf(buf + used, len - used, "%snull allowed", used ? ", " : "");
	}
}

int
wrctl_help_command(FILE *out, const struct wrctl_ops *ops, const char *command)
{
	const struct wrctl_alias *alias = wrctl_alias_find(command);
	const struct wrctl_op *op = wrctl_ops_find(ops, alias ? alias->op : command);
	const char *positional[POSITIONAL_MAX];
	char posbuf[512], flag[80], ph[256], con[96];

	if (op == NULL) {
		wrctl_warn("no command or operation '%s' (wrctl --help, wrctl ops)", command);
		return WRCTL_USAGE;
	}
	size_t npos =
		wrctl_cmd_positional(alias, op, positional, POSITIONAL_MAX, posbuf, sizeof(posbuf));
	fprintf(out, "usage: wrctl %s", command);
	for (size_t i = 0; i < npos; i++) {
		wrctl_args_flag(positional[i], flag, sizeof(flag));
		for (char *s = flag + 2; *s; s++)
			*s = *s == '-' ? '_' : (*s >= 'a' && *s <= 'z' ? *s - 'a' + 'A' : *s);
		fprintf(out, " %s", flag + 2);
	}
	fputs(" [--param VALUE ...]\n", out);
	if (alias != NULL)
		fprintf(out, "       (operation %s)\n", op->name);
	fprintf(out, "\n%s.\n", op->summary);
	if (op->public_op)
		fputs("No authentication needed.\n", out);
	if (op->mutates)
		fputs("Changes state: writes a task row and an audit row.\n", out);
	if (op->params[0].name != NULL)
		fputs("\nParameters:\n", out);
	for (const struct param *p = op->params; p->name != NULL; p++) {
		char left[400];
		wrctl_args_flag(p->name, flag, sizeof(flag));
		placeholder(p, ph, sizeof(ph));
		constraints(p, con, sizeof(con));
		snprintf(left, sizeof(left), "%s %s", flag, ph);
		fprintf(out, "  %-30s %s%s%s%s%s\n", left, p->required ? "required; " : "", p->doc,
			con[0] ? " [" : "", con, con[0] ? "]" : "");
	}
	fprintf(out, "\nResult: %s.\n", op->result);
	fputs("Long operations are followed until their task ends (--no-wait: return at once).\n",
	      out);
	return WRCTL_OK;
}

static void
complete_prefix(FILE *out, const char *word, const char *cand)
{
	if (strncmp(cand, word, strlen(word)) == 0)
		fprintf(out, "%s\n", cand);
}

void
wrctl_help_complete(FILE *out, const struct wrctl_ops *ops, int nwords, char **words)
{
	const char *cur = nwords > 0 ? words[nwords - 1] : "";
	const char *command = NULL;
	char flag[80];
	int i;

	/* The command is the first word that is not a global option (or its value). */
	for (i = 0; i < nwords - 1; i++) {
		const char *w = words[i];
		if (strcmp(w, "--url") == 0 || strcmp(w, "--ca") == 0 || strcmp(w, "--user") == 0 ||
		    strcmp(w, "--totp") == 0 || strcmp(w, "--config") == 0 ||
		    strcmp(w, "-o") == 0 || strcmp(w, "--output") == 0 ||
		    strcmp(w, "--wait-timeout") == 0) {
			i++;
			continue;
		}
		if (w[0] != '-') {
			command = w;
			break;
		}
	}
	const char *prev = nwords > 1 ? words[nwords - 2] : "";
	if (strcmp(prev, "-o") == 0 || strcmp(prev, "--output") == 0) {
		complete_prefix(out, cur, "table");
		complete_prefix(out, cur, "json");
		return;
	}
	if (command == NULL) {
		if (cur[0] == '-') {
			for (size_t k = 0; global_options[k] != NULL; k++)
				complete_prefix(out, cur, global_options[k]);
			return;
		}
		for (const struct wrctl_alias *a = wrctl_aliases; a->name; a++)
			complete_prefix(out, cur, a->name);
		complete_prefix(out, cur, "help");
		complete_prefix(out, cur, "ops");
		for (size_t k = 0; ops != NULL && k < ops->n; k++)
			complete_prefix(out, cur, ops->ops[k].name);
		return;
	}
	if (strcmp(command, "help") == 0) {
		for (const struct wrctl_alias *a = wrctl_aliases; a->name; a++)
			complete_prefix(out, cur, a->name);
		for (size_t k = 0; ops != NULL && k < ops->n; k++)
			complete_prefix(out, cur, ops->ops[k].name);
		return;
	}
	const struct wrctl_alias *alias = wrctl_alias_find(command);
	const struct wrctl_op *op = ops ? wrctl_ops_find(ops, alias ? alias->op : command) : NULL;
	if (op == NULL)
		return;
	/* The value of an enum or boolean parameter. */
	const struct param *p =
		strncmp(prev, "--", 2) == 0 ? wrctl_args_param(op->params, prev + 2) : NULL;
	if (p != NULL && p->choices != NULL) {
		for (size_t k = 0; p->choices[k] != NULL; k++)
			complete_prefix(out, cur, p->choices[k]);
		return;
	}
	if (p != NULL && p->type == PARAM_BOOL && cur[0] != '-') {
		complete_prefix(out, cur, "true");
		complete_prefix(out, cur, "false");
		return;
	}
	if (cur[0] == '-') {
		for (p = op->params; p->name != NULL; p++) {
			wrctl_args_flag(p->name, flag, sizeof(flag));
			complete_prefix(out, cur, flag);
		}
		complete_prefix(out, cur, "--output");
		complete_prefix(out, cur, "--no-wait");
		complete_prefix(out, cur, "--json");
	}
}
