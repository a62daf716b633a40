#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum log_level log_threshold = LOG_INFO;
const char *log_program = "vgpio-agent";

static const char *const level_names[] = { "error", "warning", "info", "debug" };

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;
	size_t len;

	if (level > log_threshold)
		return;
	n = snprintf(line, sizeof(line), "%s: %s: ", log_program, level_names[level]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	/* One write per line, so lines from a log collector never interleave. */
	len = strlen(line);
	line[len++] = '\n';
	if (write(STDERR_FILENO, line, len) < 0)
		return;
}
