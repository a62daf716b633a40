// SPDX-License-Identifier: GPL-2.0-only
/*
 * bitbang: drives GPIO lines of a chip through the uAPI v2 as a serial bus,
 * for the decoding tests of `vgpio2mqtt capture --decode`:
 *
 *   bitbang /dev/gpiochipN uart LINE BAUD TEXT
 *     TEXT as 8N1 UART frames (idle high, LSB first), after 20 idle bits;
 *   bitbang /dev/gpiochipN i2c SCL SDA PHASE_US ADDR BYTE...
 *     an I2C write (START, 7-bit ADDR + W, each BYTE, STOP; hex numbers),
 *     each clock phase PHASE_US long, SDA pulled low on every ACK as a
 *     device would (there is none: both lines are push-pull outputs).
 *
 * Every level is set on an absolute CLOCK_MONOTONIC deadline, so the bit
 * time does not stretch with how long each ioctl takes under TCG. A level
 * set late (the vCPU did not run in time) is late on the wire; bitbang
 * prints `late_max_us N`, the latest any level was set after its deadline,
 * so a test can tell a decoding error from a guest that missed its timing.
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

static int line_fd;
static struct timespec next;
static long step_ns;
static long late_max_ns;

/* Sets the lines in `mask` to `bits`, then sleeps until the next deadline. */
static void put(unsigned long mask, unsigned long bits)
{
	struct gpio_v2_line_values values = { .bits = bits, .mask = mask };
	struct timespec now;
	long late;

	if (ioctl(line_fd, GPIO_V2_LINE_SET_VALUES_IOCTL, &values) < 0) {
		perror("GPIO_V2_LINE_SET_VALUES_IOCTL");
		exit(1);
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	late = (now.tv_sec - next.tv_sec) * 1000000000L + (now.tv_nsec - next.tv_nsec);
	if (late > late_max_ns)
		late_max_ns = late;
	next.tv_nsec += step_ns;
	while (next.tv_nsec >= 1000000000L) {
		next.tv_nsec -= 1000000000L;
		next.tv_sec++;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
		;
}

static void request(const char *path, unsigned int n, const unsigned int *offsets)
{
	struct gpio_v2_line_request req;
	unsigned int i;
	int chip = open(path, O_RDWR);

	if (chip < 0) {
		perror(path);
		exit(1);
	}
	memset(&req, 0, sizeof(req));
	for (i = 0; i < n; i++)
		req.offsets[i] = offsets[i];
	req.num_lines = n;
	req.config.flags = GPIO_V2_LINE_FLAG_OUTPUT;
	/* Idle high on every line, from the moment the lines are requested. */
	req.config.num_attrs = 1;
	req.config.attrs[0].attr.id = GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES;
	req.config.attrs[0].attr.values = (1UL << n) - 1;
	req.config.attrs[0].mask = (1UL << n) - 1;
	strcpy(req.consumer, "bitbang");
	if (ioctl(chip, GPIO_V2_GET_LINE_IOCTL, &req) < 0) {
		perror("GPIO_V2_GET_LINE_IOCTL");
		exit(1);
	}
	line_fd = req.fd;
	clock_gettime(CLOCK_MONOTONIC, &next);
	late_max_ns = 0;
}

static void uart(const char *path, unsigned int line, long baud, const char *text)
{
	int i, bit;

	request(path, 1, &line);
	step_ns = 1000000000L / baud;
	for (i = 0; i < 20; i++)
		put(1, 1);
	for (; *text != '\0'; text++) {
		put(1, 0);
		for (bit = 0; bit < 8; bit++)
			put(1, ((unsigned char)*text >> bit) & 1);
		put(1, 1);
	}
	put(1, 1);
}

/* SCL is bit 0, SDA bit 1 of the request. */
static void i2c_put(int scl, int sda)
{
	put(3, (unsigned long)scl | ((unsigned long)sda << 1));
}

static void i2c_byte(unsigned int byte)
{
	int bit, b;

	for (bit = 7; bit >= 0; bit--) {
		b = (byte >> bit) & 1;
		i2c_put(0, b);
		i2c_put(1, b);
		i2c_put(0, b);
	}
	i2c_put(0, 0);
	i2c_put(1, 0);
	i2c_put(0, 0);
}

static void i2c(const char *path, unsigned int scl, unsigned int sda, long phase_us, int count, char **bytes)
{
	unsigned int offsets[2] = { scl, sda };
	int i;

	request(path, 2, offsets);
	step_ns = phase_us * 1000L;
	i2c_put(1, 1);
	i2c_put(1, 0);
	i2c_put(0, 0);
	for (i = 0; i < count; i++)
		i2c_byte((unsigned int)strtoul(bytes[i], NULL, 16) << (i == 0 ? 1 : 0));
	i2c_put(1, 0);
	i2c_put(1, 1);
}

int main(int argc, char **argv)
{
	if (argc == 6 && strcmp(argv[2], "uart") == 0) {
		uart(argv[1], strtoul(argv[3], NULL, 10), strtol(argv[4], NULL, 10), argv[5]);
		printf("late_max_us %ld\n", late_max_ns / 1000);
		return 0;
	}
	if (argc >= 7 && strcmp(argv[2], "i2c") == 0) {
		i2c(argv[1], strtoul(argv[3], NULL, 10), strtoul(argv[4], NULL, 10), strtol(argv[5], NULL, 10), argc - 6, argv + 6);
		printf("late_max_us %ld\n", late_max_ns / 1000);
		return 0;
	}
	fprintf(stderr, "usage: %s /dev/gpiochipN uart LINE BAUD TEXT\n       %s /dev/gpiochipN i2c SCL SDA PHASE_US ADDR BYTE...\n", argv[0], argv[0]);
	return 2;
}
