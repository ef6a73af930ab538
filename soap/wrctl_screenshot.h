/*
 * wrctl screenshot VS out.png: a one-time console ticket (vserver-console-ticket), then one
 * framebuffer through webrackd's VeNCrypt console proxy (soap/vncshot.c), written as PNG.
 */
#ifndef WEBRACK_WRCTL_SCREENSHOT_H
#define WEBRACK_WRCTL_SCREENSHOT_H

#include <jansson.h>

struct wrctl_config;

#define WRCTL_SCREENSHOT_SECONDS 30

/* Grab with the ticket (the result of vserver-console-ticket); returns an exit code. */
int wrctl_screenshot(const struct wrctl_config *cfg, const json_t *ticket, const char *png_path);

#endif
