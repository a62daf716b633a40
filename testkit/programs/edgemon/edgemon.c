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
 * COUNT is the number of events to wait for, all lines together. With
 * `ts` last, each event also ends with its timestamp_ns (CLOCK_MONOTONIC,
 * the clock of the bridge's guest_ns), for timing a signal in the guest.
 *
 * usage: edgemon /dev/gpiochipN LINES COUNT [rising|falling|both [ts]]
 */
#include "../line-request.h"

#define EVENT_BUFFER_SIZE 1024	/* the kernel's cap: GPIO_V2_LINES_MAX * 16 */

int main(int argc, char **argv)
{
	struct gpio_v2_line_request req;
	struct gpio_v2_line_event ev[16];
	unsigned long count, seen = 0;
	const char *edges;
	int stamps;

	if (argc < 4 || argc > 6 || (argc == 6 && strcmp(argv[5], "ts") != 0)) {
		fprintf(stderr, "usage: %s /dev/gpiochipN LINES COUNT [rising|falling|both [ts]]\n", argv[0]);
		return 2;
	}
	edges = argc >= 5 ? argv[4] : "both";
	stamps = argc == 6;
	parse_lines(&req, argv[2], "edgemon");
	req.event_buffer_size = EVENT_BUFFER_SIZE;
	req.config.flags = GPIO_V2_LINE_FLAG_INPUT;
	if (strcmp(edges, "rising") != 0)
		req.config.flags |= GPIO_V2_LINE_FLAG_EDGE_FALLING;
	if (strcmp(edges, "falling") != 0)
		req.config.flags |= GPIO_V2_LINE_FLAG_EDGE_RISING;
	request_lines(argv[1], &req);
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
			printf("%u %d", ev[i].line_seqno,
			       ev[i].id == GPIO_V2_LINE_EVENT_RISING_EDGE);
			if (stamps)
				printf(" %llu", (unsigned long long)ev[i].timestamp_ns);
			printf("\n");
		}
		fflush(stdout);
	}
	return 0;
}
