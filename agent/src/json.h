/*
 * A fixed-size JSON object writer for the agent's payloads. Strings that
 * come from the kernel (labels, names, consumers) are escaped; a payload
 * that would not fit is reported, never truncated silently.
 */
#ifndef VGPIO_AGENT_JSON_H
#define VGPIO_AGENT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX 1024

struct json {
	char text[JSON_MAX];
	size_t len;
	bool overflow;
	bool first;
};

void json_begin(struct json *j);
void json_string(struct json *j, const char *key, const char *value);
void json_int(struct json *j, const char *key, int64_t value);
void json_uint(struct json *j, const char *key, uint64_t value);
void json_bool(struct json *j, const char *key, bool value);
/* Closes the object; false if it did not fit in JSON_MAX bytes. */
bool json_end(struct json *j);

#endif
