/*
 * The GPIO side of the agent, through the character device's uAPI v2:
 * finds the chips and lines to watch, requests them as inputs with edge
 * detection (GPIO_V2_GET_LINE_IOCTL), watches every line's info
 * (GPIO_V2_GET_LINEINFO_WATCH_IOCTL), and reads the resulting events.
 */
#ifndef VGPIO_AGENT_GPIO_WATCH_H
#define VGPIO_AGENT_GPIO_WATCH_H

#include <linux/gpio.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "options.h"

struct watched_line {
	unsigned int offset;
	char topic[GPIO_MAX_NAME_SIZE];	/* the line's name, else its offset */
	bool watched;			/* edge-requested by the agent */
	bool seen;			/* an edge was read: last_seq is valid */
	uint64_t last_seq;		/* line_seqno of the last edge */
};

struct line_request {
	int fd;
	size_t nlines;
	unsigned int offsets[GPIO_V2_LINES_MAX];
};

struct watched_chip {
	int fd;				/* the chip: line-info events */
	char path[32];			/* /dev/gpiochipN */
	char name[GPIO_MAX_NAME_SIZE];	/* gpiochipN */
	char label[GPIO_MAX_NAME_SIZE];	/* set by the host: the chip's name in topics */
	unsigned int nlines;
	struct watched_line *lines;
	struct line_request *requests;
	size_t nrequests;
	bool lineinfo;			/* line-info watches are set */
};

struct gpio_set {
	struct watched_chip *chips;
	size_t nchips;
};

/*
 * Opens the chips and requests the lines `o` asks for. Returns 0, or -1
 * after logging why (no such chip, no such line, a line in use, ...).
 */
int gpio_open(const struct options *o, struct gpio_set *set);
void gpio_close(struct gpio_set *set);

typedef void (*edge_fn)(void *ctx, struct watched_chip *chip, struct watched_line *line,
			const struct gpio_v2_line_event *ev);
typedef void (*info_fn)(void *ctx, struct watched_chip *chip, struct watched_line *line,
			const struct gpio_v2_line_info_changed *ev);

/* Read what is pending; -1 when the descriptor failed (chip removed). */
int gpio_read_edges(struct watched_chip *chip, struct line_request *req, edge_fn fn, void *ctx);
int gpio_read_lineinfo(struct watched_chip *chip, info_fn fn, void *ctx);

/* The line's current info; -1 on failure. */
int gpio_line_info(const struct watched_chip *chip, unsigned int offset, struct gpio_v2_line_info *info);

#endif
