/*
 * vgpio-agent's options: defaults, then a config file (--config), then the
 * command line. The file holds the same long option names, one per line.
 */
#ifndef VGPIO_AGENT_OPTIONS_H
#define VGPIO_AGENT_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport.h"

#define MAX_WATCHES 64
#define MAX_SPEC_LINES 64
#define SPEC_TEXT 64

enum edge_mode { EDGE_RISING = 1, EDGE_FALLING = 2, EDGE_BOTH = 3 };

struct watch_spec {
	char chip[SPEC_TEXT];			/* label, gpiochipN or /dev/gpiochipN */
	char lines[MAX_SPEC_LINES][SPEC_TEXT];	/* names or offsets; none = every free line */
	size_t nlines;
	enum edge_mode edge;
	uint32_t debounce_us;
};

struct options {
	struct transport_addr broker;
	char base[128];
	char client_id[128];			/* empty: vgpio-agent-<first chip> */
	char username[128];
	char password[128];
	bool has_username, has_password;
	char driver[64];			/* default selection: chips bound to this driver */
	struct watch_spec watches[MAX_WATCHES];
	size_t nwatches;
	enum edge_mode edge;			/* default for --watch without @EDGE, and for the default selection */
	uint32_t debounce_us;
	bool realtime_clock;
	uint8_t qos;
	bool lineinfo;
	uint16_t keepalive_s;
	unsigned int reconnect_max_s;
	size_t queue_limit;
	int verbosity;				/* -1 quiet, 0 normal, 1 verbose */
};

/*
 * Fills `o` from the command line (and the config file it names). Returns
 * 0 to run, 1 when --help or --version was printed, -1 on a usage error
 * (already reported on stderr).
 */
int options_parse(struct options *o, int argc, char **argv);

const char *edge_name(enum edge_mode e);

#endif
