/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The line request shared by the static uAPI v2 test programs (edgemon,
 * setlines): LINES is one line or a comma-separated list of up to
 * GPIO_V2_LINES_MAX lines, requested together as one request. Errors
 * exit: 2 for bad arguments, 1 for a failing system call.
 */
#ifndef LINE_REQUEST_H
#define LINE_REQUEST_H

#include <errno.h>
#include <fcntl.h>
#include <linux/gpio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* Zeroes *req and fills in the lines of `lines` and the consumer name. */
static void parse_lines(struct gpio_v2_line_request *req, char *lines, const char *consumer)
{
	char *next = lines;

	memset(req, 0, sizeof(*req));
	do {
		if (req->num_lines == GPIO_V2_LINES_MAX) {
			fprintf(stderr, "at most %d lines\n", GPIO_V2_LINES_MAX);
			exit(2);
		}
		req->offsets[req->num_lines++] = strtoul(next, &next, 0);
	} while (*next++ == ',');
	strncpy(req->consumer, consumer, sizeof(req->consumer) - 1);
}

/* Requests req's lines from the chip at `path`; req->fd is then the request. */
static void request_lines(const char *path, struct gpio_v2_line_request *req)
{
	int chip = open(path, O_RDONLY | O_CLOEXEC);

	if (chip < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		exit(1);
	}
	if (ioctl(chip, GPIO_V2_GET_LINE_IOCTL, req) < 0) {
		fprintf(stderr, "line request: %s\n", strerror(errno));
		exit(1);
	}
	/* The request keeps the chip alive on its own. */
	close(chip);
}

#endif /* LINE_REQUEST_H */
