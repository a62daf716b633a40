#include "mqtt_packet.h"

#include <stdlib.h>
#include <string.h>

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

int buf_append(struct buf *b, const void *data, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		uint8_t *p;

		while (cap < b->len + n)
			cap *= 2;
		p = realloc(b->data, cap);
		if (p == NULL)
			return -1;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, n);
	b->len += n;
	return 0;
}

static int put_u8(struct buf *b, uint8_t v)
{
	return buf_append(b, &v, 1);
}

static int put_u16(struct buf *b, uint16_t v)
{
	uint8_t be[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	return buf_append(b, be, 2);
}

static int put_bytes(struct buf *b, const void *data, size_t n)
{
	if (n > 0xffff)
		return -1;
	return put_u16(b, (uint16_t)n) || buf_append(b, data, n);
}

static int put_string(struct buf *b, const char *s)
{
	return put_bytes(b, s, strlen(s));
}

static int put_fixed_header(struct buf *b, uint8_t first, size_t remaining)
{
	if (remaining > MQTT_MAX_REMAINING)
		return -1;
	if (put_u8(b, first))
		return -1;
	do {
		uint8_t digit = remaining % 128;

		remaining /= 128;
		if (remaining > 0)
			digit |= 0x80;
		if (put_u8(b, digit))
			return -1;
	} while (remaining > 0);
	return 0;
}

static size_t string_size(const char *s)
{
	return 2 + strlen(s);
}

int mqtt_put_connect(struct buf *out, const struct mqtt_connect *c)
{
	static const uint8_t protocol[] = { 0, 4, 'M', 'Q', 'T', 'T', 4 };
	uint8_t flags = 0;
	size_t remaining = sizeof(protocol) + 1 + 2 + string_size(c->client_id);

	if (c->clean_session)
		flags |= 0x02;
	if (c->will_topic != NULL) {
		flags |= 0x04 | (uint8_t)((c->will_qos & 3) << 3);
		if (c->will_retain)
			flags |= 0x20;
		remaining += string_size(c->will_topic) + string_size(c->will_payload);
	}
	if (c->username != NULL) {
		flags |= 0x80;
		remaining += string_size(c->username);
		if (c->password != NULL) {
			flags |= 0x40;
			remaining += string_size(c->password);
		}
	}
	if (put_fixed_header(out, MQTT_CONNECT << 4, remaining) ||
	    buf_append(out, protocol, sizeof(protocol)) || put_u8(out, flags) ||
	    put_u16(out, c->keepalive_s) || put_string(out, c->client_id))
		return -1;
	if (c->will_topic != NULL &&
	    (put_string(out, c->will_topic) || put_string(out, c->will_payload)))
		return -1;
	if (c->username != NULL && put_string(out, c->username))
		return -1;
	if (c->username != NULL && c->password != NULL && put_string(out, c->password))
		return -1;
	return 0;
}

int mqtt_put_publish(struct buf *out, const char *topic, const void *payload, size_t len,
		     uint8_t qos, bool retain, bool dup, uint16_t packet_id)
{
	uint8_t first = (uint8_t)(MQTT_PUBLISH << 4 | (qos & 3) << 1);
	size_t remaining = string_size(topic) + (qos > 0 ? 2 : 0) + len;

	if (retain)
		first |= 0x01;
	if (dup && qos > 0)
		first |= 0x08;
	if (len > MQTT_MAX_REMAINING || put_fixed_header(out, first, remaining) ||
	    put_string(out, topic))
		return -1;
	if (qos > 0 && put_u16(out, packet_id))
		return -1;
	return buf_append(out, payload, len);
}

int mqtt_put_empty(struct buf *out, enum mqtt_type type)
{
	return put_fixed_header(out, (uint8_t)(type << 4), 0);
}

int mqtt_parse_header(const uint8_t *data, size_t len, struct mqtt_header *h)
{
	size_t remaining = 0;
	unsigned int shift = 0;
	size_t i;

	if (len < 2)
		return 0;
	for (i = 1; i < 5; i++) {
		if (i >= len)
			return 0;
		remaining |= (size_t)(data[i] & 0x7f) << shift;
		shift += 7;
		if ((data[i] & 0x80) == 0) {
			h->type = data[0] >> 4;
			h->flags = data[0] & 0x0f;
			h->remaining = remaining;
			h->header_len = i + 1;
			return 1;
		}
	}
	return -1;
}

const char *mqtt_connack_reason(uint8_t code)
{
	switch (code) {
	case 0: return "accepted";
	case 1: return "unacceptable protocol version";
	case 2: return "client identifier rejected";
	case 3: return "server unavailable";
	case 4: return "bad user name or password";
	case 5: return "not authorized";
	default: return "unknown return code";
	}
}
