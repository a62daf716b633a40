#include "agent.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "log.h"
#include "mqtt_client.h"

#define TOPIC_MAX 512
#define SHUTDOWN_FLUSH_MS 2000

struct agent {
	const struct options *o;
	struct gpio_set *set;
	struct mqtt_client *mqtt;
	uint64_t kernel_dropped;	/* edges the kernel's sequence numbers show as lost */
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void publish(struct agent *a, const char *topic, struct json *j, uint8_t qos, bool retain)
{
	if (!json_end(j)) {
		log_msg(LOG_ERROR, "payload for %s does not fit in %d bytes; not published", topic, JSON_MAX);
		return;
	}
	mqtt_client_publish(a->mqtt, topic, j->text, qos, retain);
}

static void line_topic(const struct agent *a, const struct watched_chip *chip, const struct watched_line *line,
		       const char *leaf, char *topic)
{
	snprintf(topic, TOPIC_MAX, "%s/%s/%s/%s", a->o->base, chip->label, line->topic, leaf);
}

static void on_edge(void *ctx, struct watched_chip *chip, struct watched_line *line,
		    const struct gpio_v2_line_event *ev)
{
	struct agent *a = ctx;
	char topic[TOPIC_MAX];
	struct json j;

	if (line->seen && ev->line_seqno != line->last_seq + 1) {
		uint64_t lost = ev->line_seqno - line->last_seq - 1;

		a->kernel_dropped += lost;
		log_msg(LOG_WARN, "%s/%s: the kernel dropped %llu edge event(s) before seq %u", chip->label,
			line->topic, (unsigned long long)lost, ev->line_seqno);
	}
	line->seen = true;
	line->last_seq = ev->line_seqno;
	line_topic(a, chip, line, "agent/edge", topic);
	json_begin(&j);
	json_string(&j, "edge", ev->id == GPIO_V2_LINE_EVENT_RISING_EDGE ? "rising" : "falling");
	json_uint(&j, "seq", ev->line_seqno);
	json_uint(&j, "request_seq", ev->seqno);
	json_uint(&j, "guest_ns", ev->timestamp_ns);
	json_string(&j, "clock", a->o->realtime_clock ? "realtime" : "monotonic");
	json_uint(&j, "line", line->offset);
	publish(a, topic, &j, a->o->qos, false);
}

static const char *direction_of(uint64_t flags)
{
	return flags & GPIO_V2_LINE_FLAG_OUTPUT ? "output" : "input";
}

static const char *edge_of(uint64_t flags)
{
	uint64_t e = flags & (GPIO_V2_LINE_FLAG_EDGE_RISING | GPIO_V2_LINE_FLAG_EDGE_FALLING);

	return e == 0 ? "none" : e == GPIO_V2_LINE_FLAG_EDGE_RISING ? "rising" :
		e == GPIO_V2_LINE_FLAG_EDGE_FALLING ? "falling" : "both";
}

static const char *bias_of(uint64_t flags)
{
	if (flags & GPIO_V2_LINE_FLAG_BIAS_PULL_UP)
		return "pull-up";
	if (flags & GPIO_V2_LINE_FLAG_BIAS_PULL_DOWN)
		return "pull-down";
	if (flags & GPIO_V2_LINE_FLAG_BIAS_DISABLED)
		return "disabled";
	return "as-is";
}

static const char *drive_of(uint64_t flags)
{
	if (flags & GPIO_V2_LINE_FLAG_OPEN_DRAIN)
		return "open-drain";
	if (flags & GPIO_V2_LINE_FLAG_OPEN_SOURCE)
		return "open-source";
	return "push-pull";
}

static void publish_info(struct agent *a, const struct watched_chip *chip, const struct watched_line *line,
			 const char *event, const struct gpio_v2_line_info *info, uint64_t guest_ns)
{
	char topic[TOPIC_MAX], consumer[GPIO_MAX_NAME_SIZE];
	uint32_t debounce_us = 0;
	struct json j;

	for (unsigned int i = 0; i < info->num_attrs && i < GPIO_V2_LINE_NUM_ATTRS_MAX; i++)
		if (info->attrs[i].id == GPIO_V2_LINE_ATTR_ID_DEBOUNCE)
			debounce_us = info->attrs[i].debounce_period_us;
	memcpy(consumer, info->consumer, sizeof(consumer));
	consumer[sizeof(consumer) - 1] = '\0';
	line_topic(a, chip, line, "agent/lineinfo", topic);
	json_begin(&j);
	json_string(&j, "event", event);
	json_string(&j, "source", "guest");
	json_bool(&j, "used", (info->flags & GPIO_V2_LINE_FLAG_USED) != 0);
	json_string(&j, "consumer", consumer);
	json_string(&j, "direction", direction_of(info->flags));
	json_string(&j, "edge", edge_of(info->flags));
	json_string(&j, "bias", bias_of(info->flags));
	json_string(&j, "drive", drive_of(info->flags));
	json_bool(&j, "active_low", (info->flags & GPIO_V2_LINE_FLAG_ACTIVE_LOW) != 0);
	json_uint(&j, "debounce_us", debounce_us);
	if (guest_ns != 0)
		json_uint(&j, "guest_ns", guest_ns);
	json_uint(&j, "line", line->offset);
	publish(a, topic, &j, a->o->qos, false);
}

static void on_lineinfo(void *ctx, struct watched_chip *chip, struct watched_line *line,
			const struct gpio_v2_line_info_changed *ev)
{
	const char *event = ev->event_type == GPIO_V2_LINE_CHANGED_REQUESTED ? "requested" :
			    ev->event_type == GPIO_V2_LINE_CHANGED_RELEASED ? "released" : "reconfigured";

	publish_info(ctx, chip, line, event, &ev->info, ev->timestamp_ns);
}

static void agent_topic(const struct agent *a, const struct watched_chip *chip, char *topic)
{
	snprintf(topic, TOPIC_MAX, "%s/%s/agent", a->o->base, chip->label);
}

/* After each connect: the agent is online, and which lines other programs hold now. */
static void on_connect(void *ctx)
{
	struct agent *a = ctx;
	char topic[TOPIC_MAX];

	for (size_t i = 0; i < a->set->nchips; i++) {
		struct watched_chip *chip = &a->set->chips[i];

		if (chip->fd < 0)
			continue;
		agent_topic(a, chip, topic);
		mqtt_client_publish(a->mqtt, topic, "online", 1, true);
		for (unsigned int l = 0; chip->lineinfo && l < chip->nlines; l++) {
			struct gpio_v2_line_info info;

			if (!chip->lines[l].watched && gpio_line_info(chip, l, &info) == 0 &&
			    (info.flags & GPIO_V2_LINE_FLAG_USED))
				publish_info(a, chip, &chip->lines[l], "current", &info, 0);
		}
	}
}

/* A chip that went away (driver unbound): stop watching it, say so. */
static void drop_chip(struct agent *a, struct watched_chip *chip)
{
	char topic[TOPIC_MAX];

	log_msg(LOG_ERROR, "%s (%s) went away; no longer watching it", chip->label, chip->name);
	agent_topic(a, chip, topic);
	mqtt_client_publish(a->mqtt, topic, "offline", 1, true);
	for (size_t r = 0; r < chip->nrequests; r++) {
		if (chip->requests[r].fd >= 0)
			close(chip->requests[r].fd);
		chip->requests[r].fd = -1;
	}
	close(chip->fd);
	chip->fd = -1;
}

static size_t live_chips(const struct gpio_set *set)
{
	size_t n = 0;

	for (size_t i = 0; i < set->nchips; i++)
		n += set->chips[i].fd >= 0;
	return n;
}

/* Where each pollfd came from: a chip's own fd (request == NULL) or one of its line requests. */
struct source {
	struct watched_chip *chip;
	struct line_request *request;
};

static size_t build_pollfds(struct agent *a, struct pollfd *pfds, struct source *src, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < a->set->nchips; i++) {
		struct watched_chip *chip = &a->set->chips[i];

		if (chip->fd < 0)
			continue;
		if (chip->lineinfo && n < max) {
			pfds[n] = (struct pollfd){ .fd = chip->fd, .events = POLLIN };
			src[n++] = (struct source){ chip, NULL };
		}
		for (size_t r = 0; r < chip->nrequests && n < max; r++) {
			pfds[n] = (struct pollfd){ .fd = chip->requests[r].fd, .events = POLLIN };
			src[n++] = (struct source){ chip, &chip->requests[r] };
		}
	}
	return n;
}

static size_t count_fds(const struct gpio_set *set)
{
	size_t n = 1;

	for (size_t i = 0; i < set->nchips; i++)
		n += 1 + set->chips[i].nrequests;
	return n;
}

static void shutdown_mqtt(struct agent *a)
{
	char topic[TOPIC_MAX];

	/* A clean DISCONNECT suppresses the will, so say offline ourselves first. */
	for (size_t i = 0; i < a->set->nchips; i++) {
		agent_topic(a, &a->set->chips[i], topic);
		mqtt_client_publish(a->mqtt, topic, "offline", 1, true);
	}
	if (!mqtt_client_finish(a->mqtt, SHUTDOWN_FLUSH_MS))
		log_msg(LOG_WARN, "%zu message(s) not delivered at exit", mqtt_client_pending(a->mqtt));
}

static struct mqtt_client *make_client(struct agent *a)
{
	const struct options *o = a->o;
	static char client_id[160], will_topic[TOPIC_MAX];
	struct mqtt_client_config cfg = {
		.broker = o->broker,
		.client_id = client_id,
		.keepalive_s = o->keepalive_s,
		.username = o->has_username ? o->username : NULL,
		.password = o->has_password ? o->password : NULL,
		.will_topic = will_topic,
		.will_payload = "offline",
		.reconnect_min_ms = 500,
		.reconnect_max_ms = o->reconnect_max_s * 1000,
		.queue_limit = o->queue_limit,
		.max_inflight = 100,
		.on_connect = on_connect,
		.ctx = a,
	};

	/* One connection has one will: it covers the first chip (docs/agent.md). */
	agent_topic(a, &a->set->chips[0], will_topic);
	if (o->client_id[0] != '\0')
		snprintf(client_id, sizeof(client_id), "%s", o->client_id);
	else
		snprintf(client_id, sizeof(client_id), "vgpio-agent-%s", a->set->chips[0].label);
	return mqtt_client_new(&cfg);
}

int agent_run(const struct options *o, struct gpio_set *set)
{
	struct agent a = { .o = o, .set = set };
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block, during_poll;
	size_t max = count_fds(set);
	struct pollfd *pfds = calloc(max, sizeof(*pfds));
	struct source *src = calloc(max, sizeof(*src));
	int status = 0;

	a.mqtt = make_client(&a);
	if (pfds == NULL || src == NULL || a.mqtt == NULL) {
		log_msg(LOG_ERROR, "out of memory");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* Signals arrive only inside ppoll, so none is missed between the check and the wait. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &during_poll);
	sigdelset(&during_poll, SIGINT);
	sigdelset(&during_poll, SIGTERM);

	while (!stop_signal) {
		size_t n = build_pollfds(&a, pfds, src, max - 1);
		bool has_mqtt = mqtt_client_pollfd(a.mqtt, &pfds[n]);
		int timeout = mqtt_client_timeout_ms(a.mqtt);
		struct timespec ts = { timeout / 1000, (long)(timeout % 1000) * 1000000 };

		if (ppoll(pfds, n + has_mqtt, timeout < 0 ? NULL : &ts, &during_poll) < 0 && errno != EINTR) {
			log_msg(LOG_ERROR, "poll failed: %s", strerror(errno));
			status = 1;
			break;
		}
		for (size_t i = 0; i < n; i++) {
			int rc;

			if (pfds[i].revents == 0 || src[i].chip->fd < 0)
				continue;
			rc = src[i].request != NULL ? gpio_read_edges(src[i].chip, src[i].request, on_edge, &a)
						    : gpio_read_lineinfo(src[i].chip, on_lineinfo, &a);
			if (rc != 0)
				drop_chip(&a, src[i].chip);
		}
		if (has_mqtt)
			mqtt_client_handle(a.mqtt, pfds[n].revents);
		mqtt_client_tick(a.mqtt);
		if (live_chips(set) == 0) {
			log_msg(LOG_ERROR, "no GPIO chip left to watch");
			status = 1;
			break;
		}
	}
	if (stop_signal)
		log_msg(LOG_INFO, "stopping on signal %d", (int)stop_signal);
	shutdown_mqtt(&a);
	mqtt_client_free(a.mqtt);
	free(pfds);
	free(src);
	return status;
}
