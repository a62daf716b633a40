#include "gpio_watch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "log.h"

#define CONSUMER "vgpio-agent"
/* The kernel's largest per-request event buffer: bursts wait here while we publish. */
#define EVENT_BUFFER 1024

int gpio_line_info(const struct watched_chip *chip, unsigned int offset, struct gpio_v2_line_info *info)
{
	memset(info, 0, sizeof(*info));
	info->offset = offset;
	return ioctl(chip->fd, GPIO_V2_GET_LINEINFO_IOCTL, info);
}

/* The driver bound to the chip's parent device, e.g. "vgpio" or "gpio-sim". */
static void chip_driver(const char *name, char *driver, size_t size)
{
	char link[PATH_MAX], target[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/sys/bus/gpio/devices/%s/../driver", name);
	n = readlink(link, target, sizeof(target) - 1);
	driver[0] = '\0';
	if (n > 0) {
		const char *slash;

		target[n] = '\0';
		slash = strrchr(target, '/');
		slash = slash ? slash + 1 : target;
		if (strlen(slash) < size)
			strcpy(driver, slash);
	}
}

static bool topic_level_ok(const char *s)
{
	return *s != '\0' && strpbrk(s, "+#/") == NULL;
}

static int compare_chip_numbers(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Numbers N of /dev/gpiochipN, ascending. */
static size_t list_chips(int *numbers, size_t max)
{
	DIR *dir = opendir("/dev");
	struct dirent *e;
	size_t n = 0;

	if (dir == NULL)
		return 0;
	while ((e = readdir(dir)) != NULL && n < max) {
		char *end;
		long v;

		if (strncmp(e->d_name, "gpiochip", 8) != 0)
			continue;
		v = strtol(e->d_name + 8, &end, 10);
		if (*end == '\0' && end != e->d_name + 8 && v >= 0 && v < INT_MAX)
			numbers[n++] = (int)v;
	}
	closedir(dir);
	qsort(numbers, n, sizeof(*numbers), compare_chip_numbers);
	return n;
}

static int open_chip(const char *path, struct watched_chip *chip)
{
	struct gpiochip_info info;

	memset(chip, 0, sizeof(*chip));
	chip->fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (chip->fd < 0)
		return -1;
	if (ioctl(chip->fd, GPIO_GET_CHIPINFO_IOCTL, &info) != 0) {
		close(chip->fd);
		chip->fd = -1;
		return -1;
	}
	snprintf(chip->path, sizeof(chip->path), "%s", path);
	memcpy(chip->name, info.name, sizeof(chip->name));
	chip->name[sizeof(chip->name) - 1] = '\0';
	memcpy(chip->label, info.label, sizeof(chip->label));
	chip->label[sizeof(chip->label) - 1] = '\0';
	chip->nlines = info.lines;
	return 0;
}

static void close_chip(struct watched_chip *chip)
{
	for (size_t i = 0; i < chip->nrequests; i++)
		if (chip->requests[i].fd >= 0)
			close(chip->requests[i].fd);
	free(chip->requests);
	free(chip->lines);
	if (chip->fd >= 0)
		close(chip->fd);
	chip->fd = -1;
	chip->requests = NULL;
	chip->lines = NULL;
	chip->nrequests = 0;
}

void gpio_close(struct gpio_set *set)
{
	for (size_t i = 0; i < set->nchips; i++)
		close_chip(&set->chips[i]);
	free(set->chips);
	set->chips = NULL;
	set->nchips = 0;
}

static void list_available(char *out, size_t size)
{
	int numbers[256];
	size_t n = list_chips(numbers, 256), len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n && len < size; i++) {
		struct watched_chip c;
		char path[32], driver[64];

		snprintf(path, sizeof(path), "/dev/gpiochip%d", numbers[i]);
		if (open_chip(path, &c) != 0)
			continue;
		chip_driver(c.name, driver, sizeof(driver));
		len += (size_t)snprintf(out + len, size - len, "%s%s '%s' (%u lines, driver %s)", len ? ", " : "",
					c.name, c.label, c.nlines, driver[0] ? driver : "?");
		close(c.fd);
	}
	if (n == 0)
		snprintf(out, size, "none: no /dev/gpiochip* exists");
}

/* Finds the chip a --watch names: path, gpiochipN or label (which must be unique). */
static int find_chip(const char *spec, struct watched_chip *chip)
{
	int numbers[256];
	size_t n = list_chips(numbers, 256);
	int found = 0;
	char available[2048];

	if (spec[0] == '/') {
		if (open_chip(spec, chip) == 0)
			return 0;
		log_msg(LOG_ERROR, "cannot open GPIO chip %s: %s", spec,
			errno == ENOTTY ? "not a GPIO chip" : strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct watched_chip c;
		char path[32];

		snprintf(path, sizeof(path), "/dev/gpiochip%d", numbers[i]);
		if (open_chip(path, &c) != 0)
			continue;
		if (strcmp(c.name, spec) == 0 || strcmp(c.label, spec) == 0) {
			if (found++ > 0) {
				log_msg(LOG_ERROR, "two GPIO chips are labelled '%s' (%s and %s): name one by path",
					spec, chip->path, c.path);
				close(c.fd);
				close(chip->fd);
				return -1;
			}
			*chip = c;
		} else {
			close(c.fd);
		}
	}
	if (found == 1)
		return 0;
	list_available(available, sizeof(available));
	log_msg(LOG_ERROR, "no GPIO chip is labelled or named '%s' (chips: %s)", spec, available);
	return -1;
}

static int load_lines(struct watched_chip *chip)
{
	chip->lines = calloc(chip->nlines ? chip->nlines : 1, sizeof(*chip->lines));
	if (chip->lines == NULL)
		return -1;
	for (unsigned int i = 0; i < chip->nlines; i++) {
		struct gpio_v2_line_info info;
		struct watched_line *l = &chip->lines[i];

		l->offset = i;
		snprintf(l->topic, sizeof(l->topic), "%u", i);
		if (gpio_line_info(chip, i, &info) != 0) {
			log_msg(LOG_ERROR, "%s: cannot read line %u's info: %s", chip->label, i, strerror(errno));
			return -1;
		}
		info.name[sizeof(info.name) - 1] = '\0';
		if (topic_level_ok(info.name))
			snprintf(l->topic, sizeof(l->topic), "%s", info.name);
		else if (info.name[0] != '\0')
			log_msg(LOG_WARN, "%s: line %u's name '%s' cannot be a topic level; using %u",
				chip->label, i, info.name, i);
	}
	return 0;
}

static struct watched_line *find_line(struct watched_chip *chip, const char *spec)
{
	char *end;
	unsigned long v = strtoul(spec, &end, 10);

	if (*spec >= '0' && *spec <= '9' && *end == '\0')
		return v < chip->nlines ? &chip->lines[v] : NULL;
	for (unsigned int i = 0; i < chip->nlines; i++) {
		struct gpio_v2_line_info info;

		if (gpio_line_info(chip, i, &info) == 0 && strncmp(info.name, spec, sizeof(info.name)) == 0)
			return &chip->lines[i];
	}
	return NULL;
}

static int request_lines(struct watched_chip *chip, const unsigned int *offsets, size_t n,
			 enum edge_mode edge, uint32_t debounce_us, bool realtime)
{
	struct gpio_v2_line_request req;
	struct line_request *r;
	void *grown = realloc(chip->requests, (chip->nrequests + 1) * sizeof(*chip->requests));

	if (grown == NULL)
		return -1;
	chip->requests = grown;
	memset(&req, 0, sizeof(req));
	memcpy(req.offsets, offsets, n * sizeof(*offsets));
	req.num_lines = (__u32)n;
	snprintf(req.consumer, sizeof(req.consumer), CONSUMER);
	req.event_buffer_size = EVENT_BUFFER;
	req.config.flags = GPIO_V2_LINE_FLAG_INPUT;
	if (edge & EDGE_RISING)
		req.config.flags |= GPIO_V2_LINE_FLAG_EDGE_RISING;
	if (edge & EDGE_FALLING)
		req.config.flags |= GPIO_V2_LINE_FLAG_EDGE_FALLING;
	if (realtime)
		req.config.flags |= GPIO_V2_LINE_FLAG_EVENT_CLOCK_REALTIME;
	if (debounce_us > 0) {
		req.config.num_attrs = 1;
		req.config.attrs[0].attr.id = GPIO_V2_LINE_ATTR_ID_DEBOUNCE;
		req.config.attrs[0].attr.debounce_period_us = debounce_us;
		req.config.attrs[0].mask = n == 64 ? ~0ULL : (1ULL << n) - 1;
	}
	if (ioctl(chip->fd, GPIO_V2_GET_LINE_IOCTL, &req) != 0) {
		int err = errno;

		if (err == EBUSY)
			log_msg(LOG_ERROR, "%s: a line among %s%s is in use by another program",
				chip->label, chip->lines[offsets[0]].topic, n > 1 ? " and the others asked for" : "");
		else
			log_msg(LOG_ERROR, "%s: cannot request %zu line(s) for edge events: %s", chip->label, n,
				strerror(err));
		return -1;
	}
	if (fcntl(req.fd, F_SETFL, O_NONBLOCK) != 0) {
		close(req.fd);
		return -1;
	}
	r = &chip->requests[chip->nrequests++];
	r->fd = req.fd;
	r->nlines = n;
	memcpy(r->offsets, offsets, n * sizeof(*offsets));
	for (size_t i = 0; i < n; i++)
		chip->lines[offsets[i]].watched = true;
	log_msg(LOG_INFO, "%s (%s): watching %zu line(s) for %s edges%s", chip->label, chip->name, n,
		edge_name(edge), debounce_us ? " with debounce" : "");
	return 0;
}

/* Requests `count` lines in chunks of GPIO_V2_LINES_MAX. */
static int request_all(struct watched_chip *chip, const unsigned int *offsets, size_t count,
		       enum edge_mode edge, uint32_t debounce_us, bool realtime)
{
	for (size_t i = 0; i < count; i += GPIO_V2_LINES_MAX) {
		size_t n = count - i < GPIO_V2_LINES_MAX ? count - i : GPIO_V2_LINES_MAX;

		if (request_lines(chip, offsets + i, n, edge, debounce_us, realtime) != 0)
			return -1;
	}
	return 0;
}

/* Every line of the chip that no one holds; lines in use are reported and left alone. */
static int request_free_lines(struct watched_chip *chip, enum edge_mode edge, uint32_t debounce_us,
			      bool realtime)
{
	unsigned int *offsets = calloc(chip->nlines ? chip->nlines : 1, sizeof(*offsets));
	size_t n = 0;
	int rc;

	if (offsets == NULL)
		return -1;
	for (unsigned int i = 0; i < chip->nlines; i++) {
		struct gpio_v2_line_info info;

		if (chip->lines[i].watched || gpio_line_info(chip, i, &info) != 0)
			continue;
		if (info.flags & GPIO_V2_LINE_FLAG_USED) {
			info.consumer[sizeof(info.consumer) - 1] = '\0';
			log_msg(LOG_INFO, "%s: line %s is in use by '%s'; not watching its edges", chip->label,
				chip->lines[i].topic, info.consumer);
			continue;
		}
		offsets[n++] = i;
	}
	rc = request_all(chip, offsets, n, edge, debounce_us, realtime);
	free(offsets);
	return rc;
}

static int watch_spec_lines(struct watched_chip *chip, const struct watch_spec *w, bool realtime)
{
	unsigned int offsets[MAX_SPEC_LINES];
	size_t n = 0;

	if (w->nlines == 0)
		return request_free_lines(chip, w->edge, w->debounce_us, realtime);
	for (size_t i = 0; i < w->nlines; i++) {
		struct watched_line *l = find_line(chip, w->lines[i]);
		struct gpio_v2_line_info info;

		if (l == NULL) {
			log_msg(LOG_ERROR, "%s (%s) has no line '%s' (%u lines, offsets 0..%u or their names)",
				chip->label, chip->name, w->lines[i], chip->nlines, chip->nlines - 1);
			return -1;
		}
		if (l->watched) {
			log_msg(LOG_ERROR, "%s: line %s is given twice", chip->label, l->topic);
			return -1;
		}
		if (gpio_line_info(chip, l->offset, &info) == 0 && (info.flags & GPIO_V2_LINE_FLAG_USED)) {
			info.consumer[sizeof(info.consumer) - 1] = '\0';
			log_msg(LOG_ERROR, "%s: line %s (offset %u) is in use by '%s'", chip->label, l->topic,
				l->offset, info.consumer[0] ? info.consumer : "the kernel");
			return -1;
		}
		for (size_t j = 0; j < n; j++)
			if (offsets[j] == l->offset)
				l = NULL;
		if (l != NULL)
			offsets[n++] = l->offset;
	}
	return request_all(chip, offsets, n, w->edge, w->debounce_us, realtime);
}

static int add_chip(struct gpio_set *set, const struct watched_chip *chip)
{
	void *grown = realloc(set->chips, (set->nchips + 1) * sizeof(*set->chips));

	if (grown == NULL)
		return -1;
	set->chips = grown;
	set->chips[set->nchips++] = *chip;
	return 0;
}

static struct watched_chip *chip_in_set(struct gpio_set *set, const char *path)
{
	for (size_t i = 0; i < set->nchips; i++)
		if (strcmp(set->chips[i].path, path) == 0)
			return &set->chips[i];
	return NULL;
}

static int check_label(const struct watched_chip *chip)
{
	if (topic_level_ok(chip->label))
		return 0;
	log_msg(LOG_ERROR, "%s's label '%s' cannot be a topic level (empty, or has + # /)", chip->name,
		chip->label);
	return -1;
}

static int open_default(const struct options *o, struct gpio_set *set)
{
	int numbers[256];
	size_t n = list_chips(numbers, 256);
	char available[2048];

	for (size_t i = 0; i < n; i++) {
		struct watched_chip c;
		char path[32], driver[64];

		snprintf(path, sizeof(path), "/dev/gpiochip%d", numbers[i]);
		if (open_chip(path, &c) != 0)
			continue;
		chip_driver(c.name, driver, sizeof(driver));
		if (strcmp(driver, o->driver) != 0 || check_label(&c) != 0 || add_chip(set, &c) != 0) {
			close(c.fd);
			continue;
		}
		if (load_lines(&set->chips[set->nchips - 1]) != 0 ||
		    request_free_lines(&set->chips[set->nchips - 1], o->edge, o->debounce_us, o->realtime_clock) != 0)
			return -1;
	}
	if (set->nchips > 0)
		return 0;
	list_available(available, sizeof(available));
	log_msg(LOG_ERROR, "no GPIO chip is bound to driver '%s' (is %s.ko loaded?); chips: %s", o->driver,
		o->driver, available);
	return -1;
}

static int watch_lineinfo(struct watched_chip *chip)
{
	for (unsigned int i = 0; i < chip->nlines; i++) {
		struct gpio_v2_line_info info = { .offset = i };

		if (ioctl(chip->fd, GPIO_V2_GET_LINEINFO_WATCH_IOCTL, &info) != 0) {
			log_msg(LOG_ERROR, "%s: cannot watch line %u's info: %s", chip->label, i, strerror(errno));
			return -1;
		}
	}
	chip->lineinfo = true;
	return 0;
}

int gpio_open(const struct options *o, struct gpio_set *set)
{
	int rc = 0;

	memset(set, 0, sizeof(*set));
	if (o->nwatches == 0) {
		rc = open_default(o, set);
	} else {
		for (size_t i = 0; rc == 0 && i < o->nwatches; i++) {
			struct watched_chip c, *chip;

			if (find_chip(o->watches[i].chip, &c) != 0) {
				rc = -1;
				break;
			}
			chip = chip_in_set(set, c.path);
			if (chip != NULL) {
				close(c.fd);
			} else {
				if (check_label(&c) != 0 || add_chip(set, &c) != 0) {
					close(c.fd);
					rc = -1;
					break;
				}
				chip = &set->chips[set->nchips - 1];
				rc = load_lines(chip);
			}
			if (rc == 0)
				rc = watch_spec_lines(chip, &o->watches[i], o->realtime_clock);
		}
	}
	/* Watched after our own requests, so line-info events are about other programs and changes. */
	for (size_t i = 0; rc == 0 && o->lineinfo && i < set->nchips; i++)
		rc = watch_lineinfo(&set->chips[i]);
	if (rc != 0)
		gpio_close(set);
	return rc;
}

int gpio_read_edges(struct watched_chip *chip, struct line_request *req, edge_fn fn, void *ctx)
{
	struct gpio_v2_line_event events[16];

	for (;;) {
		ssize_t n = read(req->fd, events, sizeof(events));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0 || n % (ssize_t)sizeof(events[0]) != 0)
			return -1;
		for (size_t i = 0; i < (size_t)n / sizeof(events[0]); i++)
			if (events[i].offset < chip->nlines)
				fn(ctx, chip, &chip->lines[events[i].offset], &events[i]);
	}
}

int gpio_read_lineinfo(struct watched_chip *chip, info_fn fn, void *ctx)
{
	struct gpio_v2_line_info_changed events[8];

	for (;;) {
		ssize_t n = read(chip->fd, events, sizeof(events));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0 || n % (ssize_t)sizeof(events[0]) != 0)
			return -1;
		for (size_t i = 0; i < (size_t)n / sizeof(events[0]); i++)
			if (events[i].info.offset < chip->nlines)
				fn(ctx, chip, &chip->lines[events[i].info.offset], &events[i]);
	}
}
