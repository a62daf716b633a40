#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define VERSION "0.1.0"
#define DEBOUNCE_UNSET UINT32_MAX

static const char usage[] =
"Usage: vgpio-agent [OPTION]...\n"
"Watch GPIO lines through the GPIO character device and publish every edge\n"
"(with the kernel's timestamp and sequence numbers) and every change of a\n"
"line's use (request, release, reconfiguration) over MQTT 3.1.1.\n"
"\n"
"  -c, --config FILE        read options from FILE first: one 'option value' per\n"
"                           line (long names without '--'), '#' starts a comment\n"
"  -b, --broker ADDR        /dev/virtio-ports/NAME or another character device,\n"
"                           tcp://HOST[:PORT], HOST:PORT, unix:PATH\n"
"                           (default /dev/virtio-ports/vgpio2mqtt)\n"
"      --base TOPIC         topic prefix (default vgpio2mqtt)\n"
"      --client-id ID       MQTT client id (default vgpio-agent-<first chip>)\n"
"  -u, --username NAME      MQTT login\n"
"      --password SECRET    MQTT password (prefer the config file: argv is public)\n"
"  -w, --watch SPEC         watch lines; repeatable. SPEC is\n"
"                           CHIP[:LINE[,LINE...]][@EDGE[/DEBOUNCE_US]]\n"
"                           CHIP: label, gpiochipN or /dev/gpiochipN;\n"
"                           LINE: name or offset (default: every free line)\n"
"      --driver NAME        without --watch: every free line of every chip bound\n"
"                           to this kernel driver (default vgpio)\n"
"  -e, --edge EDGE          rising, falling or both, for every watch without\n"
"                           its own @EDGE (default both)\n"
"  -d, --debounce US        debounce period in microseconds, likewise (default 0)\n"
"      --clock CLOCK        event timestamps: monotonic (default) or realtime\n"
"      --qos 0|1            QoS of edge and line-info messages (default 1)\n"
"      --no-lineinfo        do not publish line requests and releases\n"
"      --keepalive S        MQTT keepalive in seconds, 0 for none (default 30)\n"
"      --reconnect-max S    longest wait between connection attempts (default 30)\n"
"      --queue N            messages kept while the broker is away (default 10000)\n"
"  -v, --verbose            log debug messages\n"
"  -q, --quiet              log warnings and errors only\n"
"  -h, --help               print this help\n"
"  -V, --version            print the version\n"
"\n"
"Topics: <base>/<chip>/<line>/agent/edge, <base>/<chip>/<line>/agent/lineinfo\n"
"(guest_ns: kernel nanoseconds, edges on --clock), <base>/<chip>/agent\n"
"(retained online/offline, the will). <chip> is the chip's label (set by the\n"
"host), <line> the line's name, else its offset.\n"
"The agent never exits because the broker went away; it reconnects.\n";

enum {
	OPT_BASE = 256, OPT_CLIENT_ID, OPT_PASSWORD, OPT_DRIVER, OPT_CLOCK, OPT_QOS,
	OPT_NO_LINEINFO, OPT_KEEPALIVE, OPT_RECONNECT_MAX, OPT_QUEUE,
};

static const struct option long_options[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "broker", required_argument, NULL, 'b' },
	{ "base", required_argument, NULL, OPT_BASE },
	{ "client-id", required_argument, NULL, OPT_CLIENT_ID },
	{ "username", required_argument, NULL, 'u' },
	{ "password", required_argument, NULL, OPT_PASSWORD },
	{ "watch", required_argument, NULL, 'w' },
	{ "driver", required_argument, NULL, OPT_DRIVER },
	{ "edge", required_argument, NULL, 'e' },
	{ "debounce", required_argument, NULL, 'd' },
	{ "clock", required_argument, NULL, OPT_CLOCK },
	{ "qos", required_argument, NULL, OPT_QOS },
	{ "no-lineinfo", no_argument, NULL, OPT_NO_LINEINFO },
	{ "keepalive", required_argument, NULL, OPT_KEEPALIVE },
	{ "reconnect-max", required_argument, NULL, OPT_RECONNECT_MAX },
	{ "queue", required_argument, NULL, OPT_QUEUE },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ 0 },
};

static const char short_options[] = "c:b:u:w:e:d:vqhV";

const char *edge_name(enum edge_mode e)
{
	return e == EDGE_RISING ? "rising" : e == EDGE_FALLING ? "falling" : "both";
}

/* `where` says which source an error came from: "--opt" or "FILE:LINE: opt". */
static int bad(const char *where, const char *value, const char *allowed)
{
	fprintf(stderr, "vgpio-agent: %s: invalid value '%s' (%s)\n", where, value, allowed);
	return -1;
}

static int parse_uint(const char *where, const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;
	char allowed[64];

	errno = 0;
	v = strtoul(s, &end, 10);
	snprintf(allowed, sizeof(allowed), "an integer from 0 to %lu", max);
	if (*s == '\0' || *s == '-' || *end != '\0' || errno != 0 || v > max)
		return bad(where, s, allowed);
	*out = v;
	return 0;
}

static int parse_edge(const char *where, const char *s, enum edge_mode *out)
{
	if (strcmp(s, "rising") == 0)
		*out = EDGE_RISING;
	else if (strcmp(s, "falling") == 0)
		*out = EDGE_FALLING;
	else if (strcmp(s, "both") == 0)
		*out = EDGE_BOTH;
	else
		return bad(where, s, "rising, falling or both");
	return 0;
}

static int copy_text(const char *where, const char *value, char *dst, size_t size)
{
	char allowed[64];

	snprintf(allowed, sizeof(allowed), "at most %zu bytes", size - 1);
	if (strlen(value) >= size)
		return bad(where, value, allowed);
	strcpy(dst, value);
	return 0;
}

/* A topic level the agent builds must not contain wildcards or separators. */
static bool topic_prefix_ok(const char *s)
{
	return *s != '\0' && strpbrk(s, "+#") == NULL && s[0] != '/' && s[strlen(s) - 1] != '/';
}

static int parse_watch(const char *where, const char *text, struct options *o)
{
	struct watch_spec *w;
	char buf[SPEC_TEXT * 4], *at, *colon, *lines;
	unsigned long debounce;

	if (o->nwatches >= MAX_WATCHES)
		return bad(where, text, "at most 64 --watch options");
	if (strlen(text) >= sizeof(buf))
		return bad(where, text, "too long");
	w = &o->watches[o->nwatches];
	memset(w, 0, sizeof(*w));
	/* Unset until the end: --edge and --debounce apply wherever they stand. */
	w->edge = 0;
	w->debounce_us = DEBOUNCE_UNSET;
	strcpy(buf, text);
	at = strrchr(buf, '@');
	if (at != NULL) {
		char *slash = strchr(at + 1, '/');

		*at = '\0';
		if (slash != NULL) {
			*slash = '\0';
			if (parse_uint(where, slash + 1, 1000000000UL, &debounce) != 0)
				return -1;
			w->debounce_us = (uint32_t)debounce;
		}
		if (parse_edge(where, at + 1, &w->edge) != 0)
			return -1;
	}
	colon = buf[0] == '/' ? NULL : strchr(buf, ':');
	if (colon != NULL)
		*colon = '\0';
	if (buf[0] == '\0' || copy_text(where, buf, w->chip, sizeof(w->chip)) != 0)
		return bad(where, text, "CHIP[:LINE[,LINE...]][@EDGE[/DEBOUNCE_US]]");
	lines = colon != NULL ? colon + 1 : NULL;
	for (char *save = NULL, *l = lines ? strtok_r(lines, ",", &save) : NULL; l != NULL;
	     l = strtok_r(NULL, ",", &save)) {
		if (w->nlines >= MAX_SPEC_LINES)
			return bad(where, text, "at most 64 lines per --watch");
		if (copy_text(where, l, w->lines[w->nlines++], SPEC_TEXT) != 0)
			return -1;
	}
	if (lines != NULL && w->nlines == 0)
		return bad(where, text, "no line after ':'");
	o->nwatches++;
	return 0;
}

static int apply(struct options *o, int opt, const char *where, const char *arg)
{
	unsigned long v;
	char err[512];

	switch (opt) {
	case 'b':
		if (transport_parse(arg, &o->broker, err, sizeof(err)) != 0) {
			fprintf(stderr, "vgpio-agent: %s: %s\n", where, err);
			return -1;
		}
		return 0;
	case OPT_BASE:
		if (!topic_prefix_ok(arg))
			return bad(where, arg, "a non-empty topic without + or # and without a leading or trailing /");
		return copy_text(where, arg, o->base, sizeof(o->base));
	case OPT_CLIENT_ID:
		return copy_text(where, arg, o->client_id, sizeof(o->client_id));
	case 'u':
		o->has_username = true;
		return copy_text(where, arg, o->username, sizeof(o->username));
	case OPT_PASSWORD:
		o->has_password = true;
		return copy_text(where, arg, o->password, sizeof(o->password));
	case 'w':
		return parse_watch(where, arg, o);
	case OPT_DRIVER:
		return copy_text(where, arg, o->driver, sizeof(o->driver));
	case 'e':
		return parse_edge(where, arg, &o->edge);
	case 'd':
		if (parse_uint(where, arg, 1000000000UL, &v) != 0)
			return -1;
		o->debounce_us = (uint32_t)v;
		return 0;
	case OPT_CLOCK:
		if (strcmp(arg, "monotonic") != 0 && strcmp(arg, "realtime") != 0)
			return bad(where, arg, "monotonic or realtime");
		o->realtime_clock = strcmp(arg, "realtime") == 0;
		return 0;
	case OPT_QOS:
		if (strcmp(arg, "0") != 0 && strcmp(arg, "1") != 0)
			return bad(where, arg, "0 or 1");
		o->qos = (uint8_t)(arg[0] - '0');
		return 0;
	case OPT_NO_LINEINFO:
		o->lineinfo = false;
		return 0;
	case OPT_KEEPALIVE:
		if (parse_uint(where, arg, 65535, &v) != 0)
			return -1;
		o->keepalive_s = (uint16_t)v;
		return 0;
	case OPT_RECONNECT_MAX:
		if (parse_uint(where, arg, 3600, &v) != 0 || (v == 0 && bad(where, arg, "1 to 3600")))
			return -1;
		o->reconnect_max_s = (unsigned int)v;
		return 0;
	case OPT_QUEUE:
		if (parse_uint(where, arg, 10000000, &v) != 0 || (v == 0 && bad(where, arg, "1 to 10000000")))
			return -1;
		o->queue_limit = v;
		return 0;
	case 'v':
		o->verbosity = 1;
		return 0;
	case 'q':
		o->verbosity = -1;
		return 0;
	}
	return -1;
}

static const struct option *find_option(const char *name)
{
	for (const struct option *opt = long_options; opt->name != NULL; opt++)
		if (strcmp(opt->name, name) == 0)
			return opt;
	return NULL;
}

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

static int read_config(struct options *o, const char *path)
{
	FILE *f = fopen(path, "re");
	char line[1024], where[PATH_MAX + 96];
	int lineno = 0, rc = 0;

	if (f == NULL) {
		fprintf(stderr, "vgpio-agent: cannot read config file %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
		char *name = trim(line), *value, *hash = strchr(name, '#');
		const struct option *opt;

		lineno++;
		if (hash != NULL)
			*hash = '\0';
		name = trim(name);
		if (*name == '\0')
			continue;
		value = name + strcspn(name, " \t=");
		if (*value != '\0') {
			*value++ = '\0';
			value = trim(value);
			if (*value == '=')
				value = trim(value + 1);
		}
		opt = find_option(name);
		snprintf(where, sizeof(where), "%s:%d: %s", path, lineno, name);
		if (opt == NULL || opt->val == 'c' || opt->val == 'h' || opt->val == 'V') {
			fprintf(stderr, "vgpio-agent: %s:%d: unknown option '%s' (see vgpio-agent --help)\n",
				path, lineno, name);
			rc = -1;
		} else if (opt->has_arg == no_argument && *value != '\0') {
			fprintf(stderr, "vgpio-agent: %s: takes no value\n", where);
			rc = -1;
		} else if (opt->has_arg == required_argument && *value == '\0') {
			fprintf(stderr, "vgpio-agent: %s: needs a value\n", where);
			rc = -1;
		} else {
			rc = apply(o, opt->val, where, value);
		}
	}
	fclose(f);
	return rc;
}

static void set_defaults(struct options *o)
{
	char err[128];

	memset(o, 0, sizeof(*o));
	transport_parse("/dev/virtio-ports/vgpio2mqtt", &o->broker, err, sizeof(err));
	strcpy(o->base, "vgpio2mqtt");
	strcpy(o->driver, "vgpio");
	o->edge = EDGE_BOTH;
	o->qos = 1;
	o->lineinfo = true;
	o->keepalive_s = 30;
	o->reconnect_max_s = 30;
	o->queue_limit = 10000;
}

int options_parse(struct options *o, int argc, char **argv)
{
	size_t file_watches;
	int opt;

	set_defaults(o);
	/* First pass: only --config, --help and --version. */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, short_options, long_options, NULL)) != -1) {
		if (opt == 'h') {
			fputs(usage, stdout);
			return 1;
		}
		if (opt == 'V') {
			puts("vgpio-agent " VERSION);
			return 1;
		}
		if (opt == 'c' && read_config(o, optarg) != 0)
			return -1;
	}
	file_watches = o->nwatches;
	/* Second pass: the command line overrides the file; its --watch list replaces the file's. */
	opterr = 1;
	optind = 0;
	while ((opt = getopt_long(argc, argv, short_options, long_options, NULL)) != -1) {
		char where[64];

		if (opt == '?') {
			fputs("Try 'vgpio-agent --help'.\n", stderr);
			return -1;
		}
		if (opt == 'c')
			continue;
		if (opt == 'w' && file_watches > 0) {
			o->nwatches = 0;
			file_watches = 0;
		}
		for (const struct option *l = long_options; l->name != NULL; l++)
			if (l->val == opt)
				snprintf(where, sizeof(where), "--%s", l->name);
		if (apply(o, opt, where, optarg) != 0)
			return -1;
	}
	if (optind < argc) {
		fprintf(stderr, "vgpio-agent: unexpected argument '%s'\nTry 'vgpio-agent --help'.\n", argv[optind]);
		return -1;
	}
	for (size_t i = 0; i < o->nwatches; i++) {
		if (o->watches[i].edge == 0)
			o->watches[i].edge = o->edge;
		if (o->watches[i].debounce_us == DEBOUNCE_UNSET)
			o->watches[i].debounce_us = o->debounce_us;
	}
	if (o->has_password && !o->has_username) {
		fputs("vgpio-agent: --password needs --username\n", stderr);
		return -1;
	}
	return 0;
}
