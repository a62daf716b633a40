#include "mqtt_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mqtt_packet.h"

/* Stop encoding queued messages once this much is waiting to be written. */
#define OUT_HIGH_WATER 16384
#define READ_CHUNK 4096
/* The broker sends us only CONNACK, PUBACK and PINGRESP: all tiny. */
#define MAX_INCOMING 4096
#define CONNECT_TIMEOUT_MIN_MS 5000

struct msg {
	struct msg *next;
	uint64_t tag;
	uint16_t id;		/* 0 until first sent */
	uint8_t qos;
	bool retain;
	bool dup;
	char *payload;		/* points into topic's allocation */
	char topic[];
};

struct queue {
	struct msg *head, *tail;
	size_t count;
};

enum state {
	ST_WAITING,	/* no connection; next attempt at next_attempt_ms */
	ST_CONNECTING,	/* TCP connect in progress */
	ST_CONNACK,	/* CONNECT sent, waiting for CONNACK */
	ST_CONNECTED,
};

struct mqtt_client {
	struct mqtt_client_config cfg;
	enum state state;
	int fd;
	struct buf out, in;
	struct queue pending, inflight;
	uint64_t next_tag;
	uint16_t next_id;
	int64_t next_attempt_ms;
	unsigned int backoff_ms;
	int64_t deadline_ms;		/* connect/CONNACK/PINGRESP deadline, or 0 */
	int64_t last_send_ms;
	bool ping_outstanding;
	bool dropping;			/* a run of queue-full drops is under way */
	bool closing;			/* DISCONNECT queued: encode nothing more */
	struct mqtt_client_stats stats;
	char last_error[256];
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *dup_or_null(const char *s)
{
	return s == NULL ? NULL : strdup(s);
}

static void push_tail(struct queue *q, struct msg *m)
{
	m->next = NULL;
	if (q->tail != NULL)
		q->tail->next = m;
	else
		q->head = m;
	q->tail = m;
	q->count++;
}

static struct msg *pop_head(struct queue *q)
{
	struct msg *m = q->head;

	if (m == NULL)
		return NULL;
	q->head = m->next;
	if (q->head == NULL)
		q->tail = NULL;
	q->count--;
	return m;
}

static void free_queue(struct queue *q)
{
	struct msg *m;

	while ((m = pop_head(q)) != NULL)
		free(m);
}

static unsigned int connect_timeout_ms(const struct mqtt_client *c)
{
	unsigned int ka = c->cfg.keepalive_s * 1000u;

	return ka > CONNECT_TIMEOUT_MIN_MS ? ka : CONNECT_TIMEOUT_MIN_MS;
}

struct mqtt_client *mqtt_client_new(const struct mqtt_client_config *config)
{
	struct mqtt_client *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->cfg = *config;
	c->cfg.client_id = dup_or_null(config->client_id);
	c->cfg.username = dup_or_null(config->username);
	c->cfg.password = dup_or_null(config->password);
	c->cfg.will_topic = dup_or_null(config->will_topic);
	c->cfg.will_payload = dup_or_null(config->will_payload);
	if (c->cfg.reconnect_min_ms == 0)
		c->cfg.reconnect_min_ms = 1;
	if (c->cfg.reconnect_max_ms < c->cfg.reconnect_min_ms)
		c->cfg.reconnect_max_ms = c->cfg.reconnect_min_ms;
	if (c->cfg.max_inflight == 0)
		c->cfg.max_inflight = 1;
	c->fd = -1;
	c->state = ST_WAITING;
	c->next_attempt_ms = now_ms();
	c->backoff_ms = c->cfg.reconnect_min_ms;
	c->next_id = 1;
	return c;
}

void mqtt_client_free(struct mqtt_client *c)
{
	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	buf_free(&c->out);
	buf_free(&c->in);
	free_queue(&c->pending);
	free_queue(&c->inflight);
	free((char *)c->cfg.client_id);
	free((char *)c->cfg.username);
	free((char *)c->cfg.password);
	free((char *)c->cfg.will_topic);
	free((char *)c->cfg.will_payload);
	free(c);
}

/* Drops the connection; QoS 1 messages not yet acknowledged go back to the front of the queue. */
static void lose_connection(struct mqtt_client *c, const char *why)
{
	struct msg *m;
	struct queue again = { 0 };
	bool repeat = strcmp(why, c->last_error) == 0;

	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->out.len = 0;
	c->in.len = 0;
	while ((m = pop_head(&c->inflight)) != NULL) {
		m->dup = true;
		push_tail(&again, m);
	}
	if (again.head != NULL) {
		again.tail->next = c->pending.head;
		if (c->pending.tail == NULL)
			c->pending.tail = again.tail;
		c->pending.head = again.head;
		c->pending.count += again.count;
	}
	c->state = ST_WAITING;
	c->ping_outstanding = false;
	c->deadline_ms = 0;
	c->next_attempt_ms = now_ms() + c->backoff_ms;
	/* The same failure every few seconds is noise after the first report. */
	log_msg(repeat ? LOG_DEBUG : LOG_WARN, "broker %s: %s; retrying in %.1f s", c->cfg.broker.text,
		why, c->backoff_ms / 1000.0);
	snprintf(c->last_error, sizeof(c->last_error), "%s", why);
	c->backoff_ms = c->backoff_ms * 2 > c->cfg.reconnect_max_ms ? c->cfg.reconnect_max_ms
								    : c->backoff_ms * 2;
}

static void flush(struct mqtt_client *c);

static void send_connect(struct mqtt_client *c)
{
	struct mqtt_connect conn = {
		.client_id = c->cfg.client_id,
		.keepalive_s = c->cfg.keepalive_s,
		.clean_session = true,
		.will_topic = c->cfg.will_topic,
		.will_payload = c->cfg.will_payload,
		.will_qos = 1,
		.will_retain = true,
		.username = c->cfg.username,
		.password = c->cfg.password,
	};

	c->out.len = 0;
	if (mqtt_put_connect(&c->out, &conn) != 0) {
		lose_connection(c, "cannot encode CONNECT (out of memory?)");
		return;
	}
	c->state = ST_CONNACK;
	c->deadline_ms = now_ms() + connect_timeout_ms(c);
	flush(c);
}

static void start_connect(struct mqtt_client *c)
{
	char err[512];
	bool pending;

	c->fd = transport_open(&c->cfg.broker, &pending, err, sizeof(err));
	if (c->fd < 0) {
		lose_connection(c, err);
		return;
	}
	log_msg(LOG_DEBUG, "broker %s: transport open, connecting", c->cfg.broker.text);
	if (pending) {
		c->state = ST_CONNECTING;
		c->deadline_ms = now_ms() + connect_timeout_ms(c);
	} else {
		send_connect(c);
	}
}

static bool id_in_flight(const struct mqtt_client *c, uint16_t id)
{
	for (const struct msg *m = c->inflight.head; m != NULL; m = m->next)
		if (m->id == id)
			return true;
	return false;
}

static uint16_t new_packet_id(struct mqtt_client *c)
{
	uint16_t id;

	do {
		id = c->next_id++;
		if (c->next_id == 0)
			c->next_id = 1;
	} while (id_in_flight(c, id));
	return id;
}

static bool can_send_next(const struct mqtt_client *c)
{
	const struct msg *m = c->pending.head;

	return c->state == ST_CONNECTED && !c->closing && m != NULL &&
	       (m->qos == 0 || c->inflight.count < c->cfg.max_inflight);
}

/* Encodes queued messages into the output buffer, in order. */
static void fill(struct mqtt_client *c)
{
	while (c->out.len < OUT_HIGH_WATER && can_send_next(c)) {
		struct msg *m = pop_head(&c->pending);

		if (m->qos > 0 && (m->id == 0 || id_in_flight(c, m->id)))
			m->id = new_packet_id(c);
		if (mqtt_put_publish(&c->out, m->topic, m->payload, strlen(m->payload), m->qos,
				     m->retain, m->dup, m->id) != 0) {
			log_msg(LOG_ERROR, "out of memory: dropping a message to %s", m->topic);
			c->stats.dropped++;
			free(m);
			continue;
		}
		c->stats.sent++;
		if (m->qos > 0)
			push_tail(&c->inflight, m);
		else
			free(m);
	}
}

static void flush(struct mqtt_client *c)
{
	if (c->state != ST_CONNACK && c->state != ST_CONNECTED)
		return;
	fill(c);
	while (c->out.len > 0) {
		ssize_t n = write(c->fd, c->out.data, c->out.len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			char why[160];

			snprintf(why, sizeof(why), "write failed: %s", n < 0 ? strerror(errno) : "no progress");
			lose_connection(c, why);
			return;
		}
		buf_consume(&c->out, (size_t)n);
		c->last_send_ms = now_ms();
		fill(c);
	}
}

static void on_connack(struct mqtt_client *c, const uint8_t *body, size_t len)
{
	char why[160];

	if (c->state != ST_CONNACK || len != 2) {
		lose_connection(c, "protocol error: unexpected CONNACK");
		return;
	}
	if (body[1] != 0) {
		snprintf(why, sizeof(why), "connection refused: %s (%u)", mqtt_connack_reason(body[1]), body[1]);
		lose_connection(c, why);
		return;
	}
	c->state = ST_CONNECTED;
	c->deadline_ms = 0;
	c->backoff_ms = c->cfg.reconnect_min_ms;
	c->last_error[0] = '\0';
	c->last_send_ms = now_ms();
	c->stats.connects++;
	log_msg(LOG_INFO, "connected to broker %s as %s (%zu messages waiting)", c->cfg.broker.text,
		c->cfg.client_id, c->pending.count);
	if (c->cfg.on_connect != NULL)
		c->cfg.on_connect(c->cfg.ctx);
}

static void on_puback(struct mqtt_client *c, const uint8_t *body, size_t len)
{
	uint16_t id;
	struct msg **link;

	if (len != 2) {
		lose_connection(c, "protocol error: malformed PUBACK");
		return;
	}
	id = (uint16_t)(body[0] << 8 | body[1]);
	for (link = &c->inflight.head; *link != NULL; link = &(*link)->next) {
		struct msg *m = *link;

		if (m->id != id)
			continue;
		*link = m->next;
		if (c->inflight.tail == m) {
			/* Recompute the tail: walk from the head (the list is short). */
			struct msg *t = c->inflight.head;

			while (t != NULL && t->next != NULL)
				t = t->next;
			c->inflight.tail = t;
		}
		c->inflight.count--;
		c->stats.acked++;
		if (c->cfg.on_ack != NULL)
			c->cfg.on_ack(c->cfg.ctx, m->tag);
		free(m);
		return;
	}
	log_msg(LOG_DEBUG, "PUBACK for unknown packet id %u ignored", id);
}

/* Returns false when the connection was dropped. */
static bool process_input(struct mqtt_client *c)
{
	struct mqtt_header h;
	char why[160];
	int rc;

	while ((rc = mqtt_parse_header(c->in.data, c->in.len, &h)) == 1) {
		size_t total = h.header_len + h.remaining;
		const uint8_t *body;

		if (total > MAX_INCOMING) {
			snprintf(why, sizeof(why), "protocol error: %zu-byte packet of type %u from the broker",
				 total, h.type);
			lose_connection(c, why);
			return false;
		}
		if (c->in.len < total)
			return true;
		body = c->in.data + h.header_len;
		switch (h.type) {
		case MQTT_CONNACK:
			on_connack(c, body, h.remaining);
			break;
		case MQTT_PUBACK:
			on_puback(c, body, h.remaining);
			break;
		case MQTT_PINGRESP:
			c->ping_outstanding = false;
			c->deadline_ms = 0;
			break;
		default:
			snprintf(why, sizeof(why), "protocol error: unexpected packet type %u from the broker", h.type);
			lose_connection(c, why);
			return false;
		}
		if (c->fd < 0)
			return false;
		buf_consume(&c->in, total);
	}
	if (rc < 0) {
		lose_connection(c, "protocol error: malformed packet length from the broker");
		return false;
	}
	return true;
}

/* Reads what is there; returns false when the connection was dropped. */
static bool read_input(struct mqtt_client *c)
{
	uint8_t chunk[READ_CHUNK];

	for (;;) {
		ssize_t n = read(c->fd, chunk, sizeof(chunk));
		char why[160];

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (n <= 0) {
			snprintf(why, sizeof(why), "%s", n == 0 ? "connection closed" : strerror(errno));
			lose_connection(c, why);
			return false;
		}
		if (buf_append(&c->in, chunk, (size_t)n) != 0) {
			lose_connection(c, "out of memory");
			return false;
		}
		if (!process_input(c))
			return false;
	}
}

void mqtt_client_handle(struct mqtt_client *c, short revents)
{
	char err[256];

	if (c->fd < 0 || revents == 0)
		return;
	if (c->state == ST_CONNECTING) {
		if (transport_connected(c->fd, err, sizeof(err)) != 0) {
			char why[300];

			snprintf(why, sizeof(why), "cannot connect: %s", err);
			lose_connection(c, why);
		} else {
			send_connect(c);
		}
		return;
	}
	if ((revents & (POLLIN | POLLHUP | POLLERR)) && !read_input(c))
		return;
	if (revents & POLLERR) {
		lose_connection(c, "connection error");
		return;
	}
	flush(c);
}

bool mqtt_client_pollfd(struct mqtt_client *c, struct pollfd *pfd)
{
	if (c->fd < 0)
		return false;
	pfd->fd = c->fd;
	pfd->events = POLLIN;
	if (c->state == ST_CONNECTING || c->out.len > 0 || can_send_next(c))
		pfd->events |= POLLOUT;
	pfd->revents = 0;
	return true;
}

int mqtt_client_timeout_ms(struct mqtt_client *c)
{
	int64_t now = now_ms(), when;

	if (c->state == ST_WAITING)
		when = c->next_attempt_ms;
	else if (c->deadline_ms != 0)
		when = c->deadline_ms;
	else if (c->state == ST_CONNECTED && c->cfg.keepalive_s > 0)
		when = c->last_send_ms + c->cfg.keepalive_s * 1000;
	else
		return -1;
	return when <= now ? 0 : (int)(when - now);
}

void mqtt_client_tick(struct mqtt_client *c)
{
	int64_t now = now_ms();
	char why[160];

	switch (c->state) {
	case ST_WAITING:
		if (now >= c->next_attempt_ms)
			start_connect(c);
		break;
	case ST_CONNECTING:
	case ST_CONNACK:
		if (now >= c->deadline_ms) {
			snprintf(why, sizeof(why), "no %s within %.1f s",
				 c->state == ST_CONNECTING ? "connection" : "CONNACK",
				 connect_timeout_ms(c) / 1000.0);
			lose_connection(c, why);
		}
		break;
	case ST_CONNECTED:
		if (c->ping_outstanding && now >= c->deadline_ms) {
			snprintf(why, sizeof(why), "no PINGRESP within %u s", c->cfg.keepalive_s);
			lose_connection(c, why);
		} else if (!c->ping_outstanding && c->cfg.keepalive_s > 0 &&
			   now - c->last_send_ms >= c->cfg.keepalive_s * 1000) {
			if (mqtt_put_empty(&c->out, MQTT_PINGREQ) != 0) {
				lose_connection(c, "out of memory");
				break;
			}
			c->ping_outstanding = true;
			c->deadline_ms = now + c->cfg.keepalive_s * 1000;
			/* Counts as sending even if the write must wait for POLLOUT. */
			c->last_send_ms = now;
			flush(c);
		}
		break;
	}
}

uint64_t mqtt_client_publish(struct mqtt_client *c, const char *topic, const char *payload,
			     uint8_t qos, bool retain)
{
	size_t tlen = strlen(topic), plen = strlen(payload);
	struct msg *m;

	if (tlen == 0 || tlen > 0xffff || plen > MQTT_MAX_REMAINING - tlen - 4) {
		log_msg(LOG_ERROR, "cannot publish to '%s': topic or payload too large", topic);
		return 0;
	}
	m = malloc(sizeof(*m) + tlen + 1 + plen + 1);
	if (m == NULL) {
		log_msg(LOG_ERROR, "out of memory: cannot queue a message to %s", topic);
		return 0;
	}
	memcpy(m->topic, topic, tlen + 1);
	m->payload = m->topic + tlen + 1;
	memcpy(m->payload, payload, plen + 1);
	m->qos = qos > 0 ? 1 : 0;
	m->retain = retain;
	m->dup = false;
	m->id = 0;
	m->tag = ++c->next_tag;
	push_tail(&c->pending, m);
	c->stats.queued++;
	if (c->pending.count <= c->cfg.queue_limit) {
		c->dropping = false;
		return m->tag;
	}
	free(pop_head(&c->pending));
	c->stats.dropped++;
	if (!c->dropping)
		log_msg(LOG_WARN, "queue full (%zu messages): dropping the oldest until the broker takes them",
			c->cfg.queue_limit);
	c->dropping = true;
	return m->tag;
}

bool mqtt_client_connected(const struct mqtt_client *c)
{
	return c->state == ST_CONNECTED;
}

size_t mqtt_client_pending(const struct mqtt_client *c)
{
	return c->pending.count + c->inflight.count;
}

struct mqtt_client_stats mqtt_client_stats(const struct mqtt_client *c)
{
	return c->stats;
}

bool mqtt_client_finish(struct mqtt_client *c, int timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;
	bool delivered;

	while (c->state == ST_CONNECTED && (mqtt_client_pending(c) > 0 || c->out.len > 0) &&
	       now_ms() < end) {
		struct pollfd pfd;

		if (!mqtt_client_pollfd(c, &pfd))
			break;
		if (poll(&pfd, 1, (int)(end - now_ms())) > 0)
			mqtt_client_handle(c, pfd.revents);
	}
	delivered = mqtt_client_pending(c) == 0;
	if (c->state == ST_CONNECTED && mqtt_put_empty(&c->out, MQTT_DISCONNECT) == 0) {
		c->closing = true;
		flush(c);
		while (c->fd >= 0 && c->out.len > 0 && now_ms() < end) {
			struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };

			if (poll(&pfd, 1, (int)(end - now_ms())) <= 0)
				break;
			flush(c);
		}
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->state = ST_WAITING;
	c->closing = false;
	c->out.len = 0;
	return delivered;
}
