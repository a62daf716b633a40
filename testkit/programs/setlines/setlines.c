// SPDX-License-Identifier: GPL-2.0-only
/*
 * setlines: sets several output lines with one call, through the GPIO
 * character device's uAPI v2, and reads them back with one call.
 *
 * libgpiod 1.6's gpioset only sets levels when it requests the lines, which
 * gpiolib turns into one direction_output() per line; a driver's
 * set_multiple() and get_multiple() are only reached by a request setting
 * or reading several lines at once, as this does.
 *
 * LINES (see line-request.h) are requested together as outputs at level
 * 0. Each VALUES is a comma-separated list of one level per line, set with
 * one GPIO_V2_LINE_SET_VALUES_IOCTL; after each, the levels read back with
 * one GPIO_V2_LINE_GET_VALUES_IOCTL are printed as one line of
 * space-separated levels.
 *
 * usage: setlines /dev/gpiochipN LINES VALUES...
 */
#include "../line-request.h"

static __u64 all_lines(unsigned int n)
{
	return n == 64 ? ~0ULL : (1ULL << n) - 1;
}

int main(int argc, char **argv)
{
	struct gpio_v2_line_request req;
	struct gpio_v2_line_values vals;
	unsigned int i;
	char *next;
	int arg;

	if (argc < 4) {
		fprintf(stderr, "usage: %s /dev/gpiochipN LINES VALUES...\n", argv[0]);
		return 2;
	}
	parse_lines(&req, argv[2], "setlines");
	req.config.flags = GPIO_V2_LINE_FLAG_OUTPUT;
	request_lines(argv[1], &req);

	for (arg = 3; arg < argc; arg++) {
		memset(&vals, 0, sizeof(vals));
		vals.mask = all_lines(req.num_lines);
		next = argv[arg];
		for (i = 0; i < req.num_lines; i++, next++) {
			if (strtoul(next, &next, 0))
				vals.bits |= 1ULL << i;
			if (*next != (i + 1 < req.num_lines ? ',' : '\0')) {
				fprintf(stderr, "%s: want %u comma-separated levels\n", argv[arg],
					req.num_lines);
				return 2;
			}
		}
		if (ioctl(req.fd, GPIO_V2_LINE_SET_VALUES_IOCTL, &vals) < 0) {
			fprintf(stderr, "set values: %s\n", strerror(errno));
			return 1;
		}
		vals.bits = 0;
		if (ioctl(req.fd, GPIO_V2_LINE_GET_VALUES_IOCTL, &vals) < 0) {
			fprintf(stderr, "get values: %s\n", strerror(errno));
			return 1;
		}
		for (i = 0; i < req.num_lines; i++)
			printf(i ? " %d" : "%d", !!(vals.bits & (1ULL << i)));
		printf("\n");
	}
	return 0;
}
