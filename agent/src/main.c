/*
 * vgpio-agent: publishes the GPIO edge events and line-info changes of a
 * QEMU guest over MQTT (docs/agent.md).
 */
#include "agent.h"
#include "gpio_watch.h"
#include "log.h"
#include "options.h"

int main(int argc, char **argv)
{
	static struct options o;
	struct gpio_set set;
	int rc;

	rc = options_parse(&o, argc, argv);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	log_threshold = o.verbosity > 0 ? LOG_DEBUG : o.verbosity < 0 ? LOG_WARN : LOG_INFO;
	if (gpio_open(&o, &set) != 0)
		return 1;
	rc = agent_run(&o, &set);
	gpio_close(&set);
	return rc;
}
