/*
 * pickbench: the raw cost of one placement decision, linked against controller/placement.c, for
 * comparison with the end-to-end figures of run.py: placement_pick() alone over 1,000 in-memory
 * nodes, the way webrackd decides against its cached capacity (controller/capacity.c).
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
int
main(int argc, char **argv)
{
	size_t n = 1000;
	double seconds = 2.0;
	struct figure pick;
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
	printf("{\"nodes\": %zu, \"pick\": {\"decisions\": %zu, \"per_second\": %.0f, "
	       "\"p50_us\": %.2f, \"p99_us\": %.2f}}\n",
	       n, pick.decisions, pick.per_second, pick.p50_us, pick.p99_us);
	return 0;
}
