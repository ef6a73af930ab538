/*
 * pickbench: the raw cost of one placement decision, linked against controller/placement.c, for
 * comparison with the end-to-end figures of run.py. Two figures over the same 1,000 nodes:
 *
 *  - pick: placement_pick() alone on an in-memory snapshot;
 *  - decode+pick: what webrackd's loop does per decision besides SQL (lifecycle.c,
 *    snapshot_loaded): parse the node_capacity snapshot as PostgreSQL sends it (a JSON array of
 *    one object per node), fill the placement_node array, pick.
 *
 * After each pick the chosen node loses the request's cores and RAM, as the commit would take
 * them, so the decisions walk through changing capacity instead of repeating one answer.
 * Prints one JSON object on stdout.
 *
 * Usage: pickbench [-n NODES] [-s SECONDS_PER_FIGURE]
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "placement.h"

#define NODE_CORES  64
#define NODE_RAM_MB 262144

static double
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int
cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return a < b ? -1 : a > b;
}

struct figure {
	double per_second;
	double p50_us, p99_us;
	size_t decisions;
};

/* The rate is over the timed calls only (not the bookkeeping between them). */
static void
summarize(double *lat, size_t n, struct figure *f)
{
	double total_ns = 0;

	for (size_t i = 0; i < n; i++)
		total_ns += lat[i];
	qsort(lat, n, sizeof(*lat), cmp_double);
	f->decisions = n;
	f->per_second = (double)n / (total_ns / 1e9);
	f->p50_us = lat[n / 2] / 1000.0;
	f->p99_us = lat[(size_t)((double)n * 0.99)] / 1000.0;
}

/* Capacity as a busy cluster has it: random free cores and RAM, every node online. */
static void
fill_nodes(struct placement_node *nodes, char (*names)[32], size_t n, unsigned seed)
{
	srand(seed);
	for (size_t i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "sim-%05zu", i);
		nodes[i] = (struct placement_node){
			.id = (int64_t)i + 1,
			.name = names[i],
			.online = true,
			.free_cores = rand() % (NODE_CORES + 1),
			.free_ram_mb = (int64_t)(rand() % NODE_RAM_MB),
			.free_disk_gb = 1000000,
		};
	}
}

static void
take(struct placement_node *nodes, int pick, const struct placement_request *r)
{
	nodes[pick].free_cores -= r->cores;
	nodes[pick].free_ram_mb -= r->ram_mb;
	if (nodes[pick].free_cores <= 0) {
		/* Keep the cluster from filling up: a full node is emptied again. */
		nodes[pick].free_cores = NODE_CORES;
		nodes[pick].free_ram_mb = NODE_RAM_MB;
	}
}

static void
bench_pick(size_t n, double seconds, struct figure *f)
{
	struct placement_node *nodes = calloc(n, sizeof(*nodes));
	char(*names)[32] = calloc(n, sizeof(*names));
	size_t cap = 1 << 22, k = 0;
	double *lat = malloc(cap * sizeof(*lat));
	struct placement_request r = {.cores = 1, .ram_mb = 512, .disk_gb = 10};
	char why[256];

	fill_nodes(nodes, names, n, 1);
	double start = now_ns(), end = start + seconds * 1e9, t = start;
	while (t < end && k < cap) {
		double t0 = now_ns();
		int pick = placement_pick(nodes, n, &r, why, sizeof(why));
		t = now_ns();
		lat[k++] = t - t0;
		if (pick < 0) {
			fprintf(stderr, "no pick: %s\n", why);
			exit(1);
		}
		take(nodes, pick, &r);
	}
	summarize(lat, k, f);
	free(lat);
	free(names);
	free(nodes);
}

/* The snapshot as PostgreSQL's json_agg(json_build_object(...)) renders it in lifecycle.c. */
static char *
snapshot_text(const struct placement_node *nodes, size_t n)
{
	size_t cap = n * 256 + 16, used = 0;
	char *s = malloc(cap);

	used += (size_t)snprintf(s + used, cap - used, "[");
	for (size_t i = 0; i < n; i++) {
		const struct placement_node *nd = &nodes[i];
		used += (size_t)snprintf(
			s + used, cap - used,
			"%s{\"id\" : %lld, \"name\" : \"%s\", \"online\" : true, \"maintenance\" : "
			"false, \"reserve\" : false, \"vdc_id\" : 0, \"free_cores\" : %d, "
			"\"free_ram_mb\" : %lld, \"free_disk_gb\" : %lld, \"group\" : 0}",
			i ? ", \n " : "", (long long)nd->id, nd->name, nd->free_cores,
			(long long)nd->free_ram_mb, (long long)nd->free_disk_gb);
	}
	snprintf(s + used, cap - used, "]");
	return s;
}

/* Mirrors snapshot_loaded() in controller/lifecycle.c (without the link lookup). */
static int
decode_and_pick(const char *text, struct placement_node *nodes, const struct placement_request *r)
{
	json_t *list = json_loads(text, 0, NULL), *e;
	size_t i, n = 0;
	char why[256];

	json_array_foreach (list, i, e) {
		struct placement_node *pn = &nodes[n++];
		pn->id = json_integer_value(json_object_get(e, "id"));
		pn->name = json_string_value(json_object_get(e, "name"));
		pn->online = json_is_true(json_object_get(e, "online"));
		pn->maintenance = json_is_true(json_object_get(e, "maintenance"));
		pn->reserve = json_is_true(json_object_get(e, "reserve"));
		pn->vdc_id = json_integer_value(json_object_get(e, "vdc_id"));
		pn->free_cores = (int)json_integer_value(json_object_get(e, "free_cores"));
		pn->free_ram_mb = json_integer_value(json_object_get(e, "free_ram_mb"));
		pn->free_disk_gb = json_integer_value(json_object_get(e, "free_disk_gb"));
		pn->group_members = (int)json_integer_value(json_object_get(e, "group"));
	}
	int pick = placement_pick(nodes, n, r, why, sizeof(why));
	int64_t id = pick >= 0 ? nodes[pick].id : 0;
	json_decref(list);
	return (int)id;
}

static void
bench_decode(size_t n, double seconds, struct figure *f, size_t *snapshot_bytes)
{
	struct placement_node *truth = calloc(n, sizeof(*truth));
	struct placement_node *scratch = calloc(n, sizeof(*scratch));
	char(*names)[32] = calloc(n, sizeof(*names));
	size_t cap = 1 << 20, k = 0;
	double *lat = malloc(cap * sizeof(*lat));
	struct placement_request r = {.cores = 1, .ram_mb = 512, .disk_gb = 10};

	fill_nodes(truth, names, n, 2);
	char *text = snapshot_text(truth, n);
	*snapshot_bytes = strlen(text);
	double start = now_ns(), end = start + seconds * 1e9, t = start;
	while (t < end && k < cap) {
		double t0 = now_ns();
		int id = decode_and_pick(text, scratch, &r);
		t = now_ns();
		lat[k++] = t - t0;
		if (id <= 0) {
			fprintf(stderr, "no pick\n");
			exit(1);
		}
		/* The next snapshot reflects the commit, as the next SELECT would. */
		take(truth, id - 1, &r);
		free(text);
		text = snapshot_text(truth, n);
	}
	summarize(lat, k, f);
	free(text);
	free(lat);
	free(names);
	free(scratch);
	free(truth);
}

int
main(int argc, char **argv)
{
	size_t n = 1000;
	double seconds = 2.0;
	struct figure pick, decode;
	size_t bytes = 0;
	int ch;

	while ((ch = getopt(argc, argv, "n:s:")) != -1) {
		switch (ch) {
		case 'n':
			n = (size_t)strtoul(optarg, NULL, 10);
			break;
		case 's':
			seconds = atof(optarg);
			break;
		default:
			fprintf(stderr, "usage: pickbench [-n NODES] [-s SECONDS]\n");
			return 2;
		}
	}
	if (n < 1)
		n = 1;
	bench_pick(n, seconds, &pick);
	bench_decode(n, seconds, &decode, &bytes);
	printf("{\"nodes\": %zu, "
	       "\"pick\": {\"decisions\": %zu, \"per_second\": %.0f, \"p50_us\": %.2f, "
	       "\"p99_us\": %.2f}, "
	       "\"decode_pick\": {\"decisions\": %zu, \"per_second\": %.0f, \"p50_us\": %.2f, "
	       "\"p99_us\": %.2f, \"snapshot_bytes\": %zu}}\n",
	       n, pick.decisions, pick.per_second, pick.p50_us, pick.p99_us, decode.decisions,
	       decode.per_second, decode.p50_us, decode.p99_us, bytes);
	return 0;
}
