#include "json.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

static void put(struct json *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct json *j, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (j->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(j->text + j->len, sizeof(j->text) - j->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(j->text) - j->len)
		j->overflow = true;
	else
		j->len += (size_t)n;
}

static void put_quoted(struct json *j, const char *s)
{
	put(j, "\"");
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			put(j, "\\%c", c);
		else if (c < 0x20)
			put(j, "\\u%04x", c);
		else
			put(j, "%c", c);
	}
	put(j, "\"");
}

static void key(struct json *j, const char *k)
{
	if (!j->first)
		put(j, ",");
	j->first = false;
	put_quoted(j, k);
	put(j, ":");
}

void json_begin(struct json *j)
{
	j->len = 0;
	j->overflow = false;
	j->first = true;
	j->text[0] = '\0';
	put(j, "{");
}

void json_string(struct json *j, const char *k, const char *value)
{
	key(j, k);
	put_quoted(j, value);
}

void json_int(struct json *j, const char *k, int64_t value)
{
	key(j, k);
	put(j, "%" PRId64, value);
}

void json_uint(struct json *j, const char *k, uint64_t value)
{
	key(j, k);
	put(j, "%" PRIu64, value);
}

void json_bool(struct json *j, const char *k, bool value)
{
	key(j, k);
	put(j, "%s", value ? "true" : "false");
}

bool json_end(struct json *j)
{
	put(j, "}");
	return !j->overflow;
}
