// SPDX-License-Identifier: GPL-2.0-only
/*
 * edgemon: watches one GPIO line for edges through the GPIO character
 * device's uAPI v2, with a kernel event buffer as large as a request may
 * have, and prints "<line_seqno> <level after the edge>" per event.
 *
 * libgpiod 1.6's gpiomon uses uAPI v1, whose kernel buffer holds 16 events
 * per line: a burst longer than the reader drains loses events inside
 * gpiolib-cdev before any driver can help. With a large buffer and the
 * sequence numbers printed, a burst test sees exactly what the driver
 * delivered, and a gap in line_seqno would show a drop.
 *
 * LINES is one line or a comma-separated list of up to 64 lines, requested
 * together as one request (as a program watching many buttons would). With
 * several lines each event is printed as "<offset> <line_seqno> <level>".
 * COUNT is the number of events to wait for, all lines together.
 *
 * usage: edgemon /dev/gpiochipN LINES COUNT [rising|falling|both]
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/gpio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define EVENT_BUFFER_SIZE 1024	/* the kernel's cap: GPIO_V2_LINES_MAX * 16 */

int main(int argc, char **argv)
{
	struct gpio_v2_line_request req;
	struct gpio_v2_line_event ev[16];
	unsigned long count, seen = 0;
	const char *edges;
	char *next;
	int chip;

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: %s /dev/gpiochipN LINES COUNT [rising|falling|both]\n", argv[0]);
		return 2;
	}
	edges = argc == 5 ? argv[4] : "both";
	chip = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (chip < 0) {
		fprintf(stderr, "%s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	memset(&req, 0, sizeof(req));
	next = argv[2];
	do {
		if (req.num_lines == GPIO_V2_LINES_MAX) {
			fprintf(stderr, "at most %d lines\n", GPIO_V2_LINES_MAX);
			return 2;
		}
		req.offsets[req.num_lines++] = strtoul(next, &next, 0);
	} while (*next++ == ',');
	req.event_buffer_size = EVENT_BUFFER_SIZE;
	strncpy(req.consumer, "edgemon", sizeof(req.consumer) - 1);
	req.config.flags = GPIO_V2_LINE_FLAG_INPUT;
	if (strcmp(edges, "rising") != 0)
		req.config.flags |= GPIO_V2_LINE_FLAG_EDGE_FALLING;
	if (strcmp(edges, "falling") != 0)
		req.config.flags |= GPIO_V2_LINE_FLAG_EDGE_RISING;
	if (ioctl(chip, GPIO_V2_GET_LINE_IOCTL, &req) < 0) {
		fprintf(stderr, "line request: %s\n", strerror(errno));
		return 1;
	}
	count = strtoul(argv[3], NULL, 0);
	while (seen < count) {
		ssize_t n = read(req.fd, ev, sizeof(ev));
		ssize_t i;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "read: %s\n", strerror(errno));
			return 1;
		}
		for (i = 0; i < n / (ssize_t)sizeof(ev[0]) && seen < count; i++, seen++) {
			if (req.num_lines > 1)
				printf("%u ", ev[i].offset);
			printf("%u %d\n", ev[i].line_seqno,
			       ev[i].id == GPIO_V2_LINE_EVENT_RISING_EDGE);
		}
		fflush(stdout);
	}
	return 0;
}
