/*
 * The screenshot command's second half (see wrctl_screenshot.h). The ticket's VeNCrypt host and
 * port come from the controller; the certificate is checked against wrctl's own ca_file (or,
 * with insecure, pinned on first use by vncshot), so a screenshot is as trustworthy as any
 * other wrctl call.
 */
#include "config.h"

#include <stdio.h>

#include "vncshot.h"
#include "wrctl.h"
#include "wrctl_config.h"
#include "wrctl_screenshot.h"

int
wrctl_screenshot(const struct wrctl_config *cfg, const json_t *ticket, const char *png_path)
{
	char err[512] = "";
	const char *host = json_string_value(json_object_get(ticket, "vencrypt_host"));
	const char *password = json_string_value(json_object_get(ticket, "ticket"));
	json_int_t port = json_integer_value(json_object_get(ticket, "vencrypt_port"));

	if (host == NULL || password == NULL || port < 1 || port > 65535) {
		wrctl_warn("the console ticket has no VeNCrypt host, port or password");
		return WRCTL_INTERNAL;
	}
	struct vncshot_target t = {host, (int)port, password, cfg->ca_file, cfg->insecure};
	if (vncshot_grab_png(&t, png_path, WRCTL_SCREENSHOT_SECONDS, err, sizeof(err)) != 0) {
		wrctl_warn("screenshot from %s:%d: %s", host, (int)port, err);
		return WRCTL_UNAVAILABLE;
	}
	return WRCTL_OK;
}
