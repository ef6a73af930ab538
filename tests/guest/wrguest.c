/*
 * wrguest: the static helper of the webrack test guest (built by build.sh with
 * gcc -static, runs as /bin/wrguest inside the guest's initramfs).
 *
 *   wrguest serve PORT NAME TAG   TCP service: every connection gets one line
 *                                 "webrack-guest NAME COUNTER TAG\n"; COUNTER
 *                                 starts at 1, grows by one per connection and
 *                                 is mirrored to /run/wr/counter (tmpfs), so a
 *                                 respawned server continues where it was.
 *   wrguest dirty MB RATE         keeps MB MiB of anonymous memory and rewrites
 *                                 it at RATE MiB/s forever (RATE 0: as fast as
 *                                 possible), page by page, round robin.
 *   wrguest powerbtn              waits for KEY_POWER on any /dev/input/event*
 *                                 (the ACPI power button) and runs poweroff.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/input.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define COUNTER_FILE "/run/wr/counter"

static void
console(const char *fmt, const char *arg)
{
	int fd = open("/dev/console", O_WRONLY | O_NOCTTY);
	if (fd < 0)
		return;
	dprintf(fd, fmt, arg);
	close(fd);
}

static unsigned long long
load_counter(void)
{
	unsigned long long c = 0;
	FILE *f = fopen(COUNTER_FILE, "r");
	if (f) {
		if (fscanf(f, "%llu", &c) != 1)
			c = 0;
		fclose(f);
	}
	return c;
}

static void
store_counter(unsigned long long c)
{
	char tmp[] = COUNTER_FILE ".tmp";
	FILE *f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "%llu\n", c);
	if (fclose(f) == 0)
		rename(tmp, COUNTER_FILE);
}

static int
serve(int port, const char *name, const char *tag)
{
	unsigned long long counter = load_counter();
	int one = 1;
	int s = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 a;

	if (s < 0) {
		perror("socket");
		return 1;
	}
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&a, 0, sizeof a);
	a.sin6_family = AF_INET6; /* dual stack: IPv4 arrives as ::ffff:a.b.c.d */
	a.sin6_port = htons(port);
	a.sin6_addr = in6addr_any;
	if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 64) < 0) {
		perror("bind/listen");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		char line[512];
		int n, c = accept(s, NULL, NULL);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("accept");
			sleep(1);
			continue;
		}
		counter++;
		store_counter(counter);
		n = snprintf(line, sizeof line, "webrack-guest %s %llu %s\n", name, counter, tag);
		if (write(c, line, n) < 0) {
			/* the client left early: the counter still moved on */
		}
		shutdown(c, SHUT_WR);
		close(c);
	}
}

static double
now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static int
dirty(long mb, long rate)
{
	size_t page = 4096, size = (size_t)mb << 20, npages = size / page, pos = 0;
	unsigned char *buf;
	unsigned char gen = 0;
	double start, pages_per_sec = (double)rate * (1 << 20) / page, done = 0;

	if (mb <= 0)
		return 0;
	buf = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
		   -1, 0);
	if (buf == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	start = now();
	for (;;) {
		/* work in 10 ms slices: write the pages the rate allows until now */
		double target = rate > 0 ? (now() - start) * pages_per_sec : done + npages;
		while (done < target) {
			buf[pos * page + (pos * 64) % page] = ++gen;
			if (++pos == npages)
				pos = 0;
			done++;
		}
		if (rate > 0) {
			struct timespec ts = {0, 10 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
	}
}

static int
powerbtn(void)
{
	struct pollfd fds[32];
	int n = 0;
	DIR *d = opendir("/dev/input");
	struct dirent *e;

	if (!d) {
		perror("/dev/input");
		return 1;
	}
	while ((e = readdir(d)) && n < 32) {
		char p[300];
		if (strncmp(e->d_name, "event", 5))
			continue;
		snprintf(p, sizeof p, "/dev/input/%s", e->d_name);
		fds[n].fd = open(p, O_RDONLY);
		if (fds[n].fd >= 0) {
			fds[n].events = POLLIN;
			n++;
		}
	}
	closedir(d);
	if (n == 0) {
		fprintf(stderr, "wrguest: no input event devices\n");
		return 1;
	}
	for (;;) {
		if (poll(fds, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		for (int i = 0; i < n; i++) {
			struct input_event ev[16];
			ssize_t r;
			if (!(fds[i].revents & POLLIN))
				continue;
			r = read(fds[i].fd, ev, sizeof ev);
			for (int k = 0; r > 0 && k < (int)(r / sizeof ev[0]); k++) {
				if (ev[k].type == EV_KEY && ev[k].code == KEY_POWER &&
				    ev[k].value == 1) {
					console("%s", "webrack-guest: power button pressed, "
						      "powering off\n");
					execl("/bin/busybox", "poweroff", (char *)NULL);
					perror("poweroff");
					return 1;
				}
			}
		}
	}
}

int
main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "serve"))
		return serve(atoi(argv[2]), argv[3], argv[4]);
	if (argc == 4 && !strcmp(argv[1], "dirty"))
		return dirty(atol(argv[2]), atol(argv[3]));
	if (argc == 2 && !strcmp(argv[1], "powerbtn"))
		return powerbtn();
	fprintf(stderr, "usage: wrguest serve PORT NAME TAG | dirty MB RATE | powerbtn\n");
	return 2;
}
