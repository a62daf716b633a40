/*
 * The agent proper: turns GPIO events into MQTT messages (the topics of docs/topics.md)
 * and runs the poll loop until SIGINT or SIGTERM.
 */
#ifndef VGPIO_AGENT_AGENT_H
#define VGPIO_AGENT_AGENT_H

#include "gpio_watch.h"
#include "options.h"

/* Returns the process exit code. */
int agent_run(const struct options *o, struct gpio_set *set);

#endif
