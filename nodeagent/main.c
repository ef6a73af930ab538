/*
 * webrack-node: the node agent. Parses the command line, checks the configuration, runs `join`,
 * or probes the node and keeps the link to the controller until SIGTERM/SIGINT. Exiting never
 * touches the guests: QEMU processes outlive the agent (systemd KillMode=process) and a restarted
 * agent re-attaches to them. SIGHUP re-reads the configuration's reloadable keys (log_level).
 */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "agent_settings.h"
#include "console.h"
#include "fence.h"
#include "inventory.h"
#include "join.h"
#include "link.h"
#include "log.h"
#include "sniffer.h"
#include "stats.h"
#include "vm.h"

#define DEFAULT_CONFIG WEBRACK_SYSCONFDIR "/webrack/node.conf"

/* The agent's state. Owner: main(); lives until exit. */
struct agent {
	const char *config_file;
	bool debug;
	struct agent_settings settings;
	struct inventory inventory;
	struct event_base *base;
	struct link *link;
	struct vms *vms;	 /* the VM supervisor; also the commands' cmd->agent */
	struct console *console; /* console endpoint, NULL when console_listen is unset */
	struct stats_sampler *stats;
	struct fence *fence; /* self-fencing and the watchdog */
};

static void
usage(FILE *out)
{
	fprintf(out,
		"usage: webrack-node [-c FILE] [-d] [-n]\n"
		"       webrack-node join URL TOKEN [-c FILE] [--ca FILE | --pin sha256//KEY | "
		"--insecure-first-join]\n"
		"       webrack-node --help-config | --version | --help\n"
		"\n"
		"  -c, --config FILE    configuration file (default " DEFAULT_CONFIG ")\n"
		"  -n, --check          check the configuration and exit\n"
		"  -d, --debug          log at debug level\n"
		"      --help-config    list every configuration key with its default\n"
		"  -V, --version        print the version\n"
		"  -h, --help           this text\n"
		"\n"
		"join: enrol this node with the controller at URL (https://HOST:8443) using a "
		"token\n"
		"from node-join-token-create (TOKEN '-' reads it from standard input). The\n"
		"controller's HTTPS certificate is verified against the system's CAs, or:\n"
		"      --ca FILE            a CA (or the certificate itself) to verify it with\n"
		"      --pin sha256//KEY    the SHA-256 of its public key (base64), as curl pins\n"
		"      --insecure-first-join  do not verify; print the fingerprint to compare\n"
		"\n"
		"Signals: SIGTERM/SIGINT exit without touching the guests, SIGHUP reloads "
		"log_level.\n"
		"See webrack-node(8).\n");
}

/* The link's callback argument is the supervisor (command handlers need it); it knows us. */
static json_t *
hello_inventory(void *arg)
{
	struct agent *agent = vms_owner(arg);

	return inventory_to_json(&agent->inventory, &agent->settings);
}

static json_t *
hello_vms(void *arg)
{
	return vms_hello(arg);
}

static void
on_terminate(evutil_socket_t sig, short what, void *arg)
{
	struct agent *agent = arg;

	log_info("%s: exiting; guests keep running", strsignal((int)sig));
	event_base_loopexit(agent->base, NULL);
}

static void
on_reload(evutil_socket_t sig, short what, void *arg)
{
	struct agent *agent = arg;
	struct agent_settings fresh;
	struct config_errors errs = {.out = stderr};

	log_info("SIGHUP: reloading %s", agent->config_file);
	if (!agent_settings_load(&fresh, agent->config_file, &errs)) {
		log_error("configuration has %d error(s); keeping the running one", errs.count);
		agent_settings_free(&fresh);
		return;
	}
	config_apply_reload(agent_settings_table, &agent->settings, &fresh);
	agent_settings_free(&fresh);
	if (!agent->debug)
		log_set_level((enum log_level)agent->settings.log_level);
	log_info("configuration reloaded (log_level %s)",
		 log_level_name((enum log_level)agent->settings.log_level));
}

static int
run_agent(struct agent *agent)
{
	struct event *sigterm = NULL, *sigint = NULL, *sighup = NULL;
	struct link_callbacks cb = {hello_inventory, hello_vms, NULL};
	char why[512];
	int rc = 1;
	struct sniffers *sniffers = NULL; /* ARP/NDP, reached through agent->vms */

	if (!inventory_collect(&agent->inventory, &agent->settings, why, sizeof(why))) {
		log_error("%s", why);
		return 1;
	}
	agent->base = event_base_new();
	if (agent->base == NULL) {
		log_error("cannot create the event loop");
		return 1;
	}
	agent->vms = vms_new(agent->base, &agent->settings, &agent->inventory, agent);
	if (agent->vms == NULL) {
		log_error("out of memory");
		goto out;
	}
	/* Before vms_load, so that re-attached VMs are sniffed from the start. */
	sniffers = sniffers_new(agent->base, (int)agent->settings.ip_refresh);
	if (sniffers == NULL) {
		log_error("out of memory");
		goto out;
	}
	agent->vms->sniffers = sniffers;
	/* Before the first hello, so that it lists the QEMUs re-attached to. */
	if (vms_load(agent->vms) < 0)
		goto out;
	cb.arg = agent->vms;
	agent->link = link_new(agent->base, &agent->settings, &cb, why, sizeof(why));
	if (agent->link == NULL) {
		log_error("%s", why);
		goto out;
	}
	vms_set_link(agent->vms, agent->link);
	agent->fence = fence_new(agent->base, &agent->settings, agent->vms, why, sizeof(why));
	if (agent->fence == NULL) {
		log_error("%s", why);
		goto out;
	}
	link_set_fence(agent->link, agent->fence);
	sniffers_set_link(sniffers, agent->link);
	agent->console = console_new(agent->base, &agent->settings, agent->vms, why, sizeof(why));
	if (agent->console == NULL && why[0] != '\0') {
		log_error("%s", why);
		goto out;
	}
	agent->stats = stats_new(agent->base, agent->vms, agent->link,
				 (int)agent->settings.stats_interval);
	if (agent->stats == NULL) {
		log_error("cannot start the statistics sampler");
		goto out;
	}
	sigterm = evsignal_new(agent->base, SIGTERM, on_terminate, agent);
	sigint = evsignal_new(agent->base, SIGINT, on_terminate, agent);
	sighup = evsignal_new(agent->base, SIGHUP, on_reload, agent);
	if (sigterm == NULL || sigint == NULL || sighup == NULL || evsignal_add(sigterm, NULL) ||
	    evsignal_add(sigint, NULL) || evsignal_add(sighup, NULL)) {
		log_error("cannot install signal handlers");
		goto out;
	}
	link_start(agent->link);
	log_info("webrack-node %s (node %s) running; controller %s", PACKAGE_VERSION,
		 agent->settings.name, agent->settings.controller);
	event_base_dispatch(agent->base);
	rc = 0;
out:
	console_free(agent->console);
	/* Detach from the guests first (pending commands are answered while the link exists). */
	stats_free(agent->stats);
	fence_free(agent->fence); /* disarms the watchdog: the guests keep running */
	vms_free(agent->vms);
	sniffers_free(sniffers);
	if (agent->link)
		link_free(agent->link);
	if (sigterm)
		event_free(sigterm);
	if (sigint)
		event_free(sigint);
	if (sighup)
		event_free(sighup);
	event_base_free(agent->base);
	return rc;
}

int
main(int argc, char **argv)
{
	enum { OPT_HELP_CONFIG = 256, OPT_CA, OPT_PIN, OPT_INSECURE };
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check", no_argument, NULL, 'n'},
		{"debug", no_argument, NULL, 'd'},
		{"help-config", no_argument, NULL, OPT_HELP_CONFIG},
		{"ca", required_argument, NULL, OPT_CA},
		{"pin", required_argument, NULL, OPT_PIN},
		{"insecure-first-join", no_argument, NULL, OPT_INSECURE},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct agent agent = {.config_file = DEFAULT_CONFIG};
	struct join_options join = {0};
	bool check = false;
	int ch;

	/* "+" would stop at "join"; permuting lets options follow the subcommand's arguments. */
	while ((ch = getopt_long(argc, argv, "c:ndVh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			agent.config_file = optarg;
			break;
		case 'n':
			check = true;
			break;
		case 'd':
			agent.debug = true;
			break;
		case OPT_HELP_CONFIG:
			config_print_table(agent_settings_table, stdout);
			return 0;
		case OPT_CA:
			join.ca_file = optarg;
			break;
		case OPT_PIN:
			join.pin = optarg;
			break;
		case OPT_INSECURE:
			join.insecure = true;
			break;
		case 'V':
			printf("webrack-node %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	bool joining = optind < argc && strcmp(argv[optind], "join") == 0;
	if (joining ? argc - optind != 3 || check : optind != argc) {
		usage(stderr);
		return 2;
	}
	if (!joining && (join.ca_file || join.pin || join.insecure)) {
		fprintf(stderr, "webrack-node: --ca, --pin and --insecure-first-join belong to "
				"join\n");
		return 2;
	}
	if ((join.ca_file != NULL) + (join.pin != NULL) + join.insecure > 1) {
		fprintf(stderr, "webrack-node: choose one of --ca, --pin, --insecure-first-join\n");
		return 2;
	}

	struct config_errors errs = {.out = stderr};
	if (!agent_settings_load(&agent.settings, agent.config_file, &errs)) {
		fprintf(stderr, "%s: %d error(s)\n", agent.config_file, errs.count);
		agent_settings_free(&agent.settings);
		return 1;
	}
	if (check) {
		printf("%s: configuration OK\n", agent.config_file);
		agent_settings_free(&agent.settings);
		return 0;
	}
	log_open("webrack-node", agent.settings.log_syslog);
	log_set_level(agent.debug ? LOG_LVL_DEBUG : (enum log_level)agent.settings.log_level);
	signal(SIGPIPE, SIG_IGN);

	int rc;
	if (joining) {
		join.url = argv[optind + 1];
		join.token = argv[optind + 2];
		curl_global_init(CURL_GLOBAL_DEFAULT);
		rc = join_run(&agent.settings, &join);
		curl_global_cleanup();
	} else {
		rc = run_agent(&agent);
	}
	agent_settings_free(&agent.settings);
	return rc;
}
