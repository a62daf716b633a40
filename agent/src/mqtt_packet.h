/*
 * MQTT 3.1.1 packets, the few a publishing client needs: CONNECT (with a
 * will and optional login), PUBLISH QoS 0/1, PINGREQ and DISCONNECT out;
 * CONNACK, PUBACK and PINGRESP in. Encoders append to a growable buffer.
 * Written here because no maintained C client library both links into a
 * static musl binary and speaks over a character device (docs/agent.md).
 */
#ifndef VGPIO_AGENT_MQTT_PACKET_H
#define VGPIO_AGENT_MQTT_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mqtt_type {
	MQTT_CONNECT = 1,
	MQTT_CONNACK = 2,
	MQTT_PUBLISH = 3,
	MQTT_PUBACK = 4,
	MQTT_SUBACK = 9,
	MQTT_PINGREQ = 12,
	MQTT_PINGRESP = 13,
	MQTT_DISCONNECT = 14,
};

/* Largest remaining length the 4-byte variable-length encoding can carry. */
#define MQTT_MAX_REMAINING 268435455u

struct buf {
	uint8_t *data;
	size_t len;
	size_t cap;
};

void buf_free(struct buf *b);
/* Drops the first n bytes. */
void buf_consume(struct buf *b, size_t n);
int buf_append(struct buf *b, const void *data, size_t n);

struct mqtt_connect {
	const char *client_id;
	uint16_t keepalive_s;
	bool clean_session;
	const char *will_topic;		/* NULL: no will */
	const char *will_payload;
	uint8_t will_qos;
	bool will_retain;
	const char *username;		/* NULL: none */
	const char *password;		/* NULL: none; only sent with a username */
};

/* Each returns 0, or -1 if out of memory or a field exceeds MQTT's limits. */
int mqtt_put_connect(struct buf *out, const struct mqtt_connect *c);
int mqtt_put_publish(struct buf *out, const char *topic, const void *payload, size_t len,
		     uint8_t qos, bool retain, bool dup, uint16_t packet_id);
int mqtt_put_empty(struct buf *out, enum mqtt_type type);

struct mqtt_header {
	uint8_t type;		/* enum mqtt_type */
	uint8_t flags;		/* low nibble of the first byte */
	size_t remaining;	/* bytes after the fixed header */
	size_t header_len;	/* bytes of the fixed header */
};

/*
 * Parses a fixed header at the start of `data`: 1 when complete, 0 when more
 * bytes are needed, -1 when the remaining-length field is malformed.
 */
int mqtt_parse_header(const uint8_t *data, size_t len, struct mqtt_header *h);

/* CONNACK return codes 1..5 as text. */
const char *mqtt_connack_reason(uint8_t code);

#endif
