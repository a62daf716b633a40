// SPDX-License-Identifier: GPL-2.0-only
/*
 * blink: drives one GPIO line as an output through the GPIO character
 * device's uAPI v2, HALF_MS milliseconds ON then HALF_MS OFF, COUNT times,
 * on absolute CLOCK_MONOTONIC deadlines so the period does not drift with
 * how long each write takes (a shell loop of gpioset pays a program start
 * per edge, which under TCG is a large part of a 100 ms period).
 *
 * usage: blink /dev/gpiochipN LINE HALF_MS COUNT
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/gpio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct gpio_v2_line_request req;
	struct gpio_v2_line_values values;
	struct timespec next;
	unsigned long half_ms, count, i;
	int chip;

	if (argc != 5) {
		fprintf(stderr, "usage: %s /dev/gpiochipN LINE HALF_MS COUNT\n", argv[0]);
		return 2;
	}
	half_ms = strtoul(argv[3], NULL, 10);
	count = strtoul(argv[4], NULL, 10);
	chip = open(argv[1], O_RDWR);
	if (chip < 0) {
		perror(argv[1]);
		return 1;
	}
	memset(&req, 0, sizeof(req));
	req.offsets[0] = strtoul(argv[2], NULL, 10);
	req.num_lines = 1;
	req.config.flags = GPIO_V2_LINE_FLAG_OUTPUT;
	strcpy(req.consumer, "blink");
	if (ioctl(chip, GPIO_V2_GET_LINE_IOCTL, &req) < 0) {
		perror("GPIO_V2_GET_LINE_IOCTL");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (i = 0; i < 2 * count; i++) {
		values.mask = 1;
		values.bits = (i % 2 == 0) ? 1 : 0;
		if (ioctl(req.fd, GPIO_V2_LINE_SET_VALUES_IOCTL, &values) < 0) {
			perror("GPIO_V2_LINE_SET_VALUES_IOCTL");
			return 1;
		}
		next.tv_nsec += half_ms * 1000000L;
		while (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
			;
	}
	printf("%lu\n", 2 * count);
	return 0;
}
