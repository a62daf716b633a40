/*
 * A publishing MQTT 3.1.1 client for a poll() loop: connects with a will and
 * keepalive, queues publishes while the broker is away, sends QoS 1 messages
 * until acknowledged (again, with DUP, after a reconnect), pings, detects a
 * dead peer, and reconnects with exponential backoff. It never gives up:
 * the broker going away is an ordinary state, not an error.
 */
#ifndef VGPIO_AGENT_MQTT_CLIENT_H
#define VGPIO_AGENT_MQTT_CLIENT_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport.h"

struct mqtt_client;

struct mqtt_client_config {
	struct transport_addr broker;
	const char *client_id;
	uint16_t keepalive_s;		/* also the ping-response and CONNACK deadline */
	const char *username;		/* NULL: no login */
	const char *password;
	const char *will_topic;		/* NULL: no will; the will is retained, QoS 1 */
	const char *will_payload;
	unsigned int reconnect_min_ms;
	unsigned int reconnect_max_ms;
	size_t queue_limit;		/* messages waiting; beyond it the oldest is dropped */
	unsigned int max_inflight;	/* QoS 1 messages sent and not yet acknowledged */
	/* Called after each CONNACK that accepts the connection. */
	void (*on_connect)(void *ctx);
	/* Called when the broker acknowledges the QoS 1 message `tag`. */
	void (*on_ack)(void *ctx, uint64_t tag);
	void *ctx;
};

struct mqtt_client_stats {
	uint64_t queued, sent, acked, dropped, connects;
};

/* Copies the configuration; NULL if out of memory. Nothing is opened yet. */
struct mqtt_client *mqtt_client_new(const struct mqtt_client_config *config);
void mqtt_client_free(struct mqtt_client *c);

/*
 * Queues a message; returns its tag (> 0), or 0 when it cannot be encoded
 * (too large, out of memory). Sending starts at the next poll round.
 */
uint64_t mqtt_client_publish(struct mqtt_client *c, const char *topic, const char *payload,
			     uint8_t qos, bool retain);

/* The descriptor and events to poll for; false when there is none now. */
bool mqtt_client_pollfd(struct mqtt_client *c, struct pollfd *pfd);
/* Handles poll results for the descriptor from mqtt_client_pollfd. */
void mqtt_client_handle(struct mqtt_client *c, short revents);
/* Milliseconds until mqtt_client_tick has work (a connect attempt, a ping), or -1. */
int mqtt_client_timeout_ms(struct mqtt_client *c);
/* Runs what is due: connect attempts, keepalive pings, dead-peer detection. */
void mqtt_client_tick(struct mqtt_client *c);

bool mqtt_client_connected(const struct mqtt_client *c);
/* Messages not yet sent plus QoS 1 messages not yet acknowledged. */
size_t mqtt_client_pending(const struct mqtt_client *c);
struct mqtt_client_stats mqtt_client_stats(const struct mqtt_client *c);

/*
 * For shutdown: when connected, keeps sending for up to timeout_ms until
 * nothing is pending, then sends DISCONNECT (so the broker drops the will)
 * and closes. Returns true if everything was delivered.
 */
bool mqtt_client_finish(struct mqtt_client *c, int timeout_ms);

#endif
