/* Logging to stderr: one line per event worth knowing, with a level. */
#ifndef VGPIO_AGENT_LOG_H
#define VGPIO_AGENT_LOG_H

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Messages above this level are not printed (default LOG_INFO). */
extern enum log_level log_threshold;
/* Prefix of every line (the program's name). */
extern const char *log_program;

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
