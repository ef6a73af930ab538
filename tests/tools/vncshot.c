/*
 * vncshot: grab one screenshot through webrackd's VeNCrypt console listener (soap/vncshot.c),
 * for the console tests and the benchmark before wrctl exists.
 *
 *   VNCSHOT_PASSWORD=wrc_... vncshot HOST PORT OUT.png [--ca FILE | --insecure] [--timeout N]
 *
 * Prints "WIDTH HEIGHT NONBLACK_PIXELS" on success; exit 1 with the reason on stderr otherwise.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vncshot.h"

int
main(int argc, char **argv)
{
	struct vncshot_target t = {0};
	struct vncshot_info info = {0};
	int timeout = 30;
	char err[512];

	if (argc < 4) {
		fprintf(stderr,
			"usage: VNCSHOT_PASSWORD=TICKET %s HOST PORT OUT.png "
			"[--ca FILE | --insecure] [--timeout N]\n",
			argv[0]);
		return 2;
	}
	t.host = argv[1];
	t.port = atoi(argv[2]);
	t.password = getenv("VNCSHOT_PASSWORD");
	for (int i = 4; i < argc; i++) {
		if (strcmp(argv[i], "--ca") == 0 && i + 1 < argc)
			t.ca_file = argv[++i];
		else if (strcmp(argv[i], "--insecure") == 0)
			t.insecure = true;
		else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
			timeout = atoi(argv[++i]);
		else {
			fprintf(stderr, "%s: unknown option %s\n", argv[0], argv[i]);
			return 2;
		}
	}
	if (t.password == NULL || t.port <= 0 || timeout <= 0) {
		fprintf(stderr, "%s: VNCSHOT_PASSWORD, a port and a timeout are required\n",
			argv[0]);
		return 2;
	}
	if (vncshot_grab_png_info(&t, argv[3], timeout, &info, err, sizeof(err)) != 0) {
		fprintf(stderr, "vncshot: %s\n", err);
		return 1;
	}
	printf("%d %d %ld\n", info.width, info.height, info.nonblack);
	return 0;
}
