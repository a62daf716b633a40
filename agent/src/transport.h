/*
 * The byte stream under MQTT: a TCP address, a unix socket, or a character
 * device such as a virtio-serial port (/dev/virtio-ports/<name>) for guests
 * with no network. Every descriptor is non-blocking.
 */
#ifndef VGPIO_AGENT_TRANSPORT_H
#define VGPIO_AGENT_TRANSPORT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

enum transport_kind { TRANSPORT_TCP, TRANSPORT_UNIX, TRANSPORT_PATH };

struct transport_addr {
	enum transport_kind kind;
	char host[256];
	char port[8];
	char path[PATH_MAX];
	char text[PATH_MAX + 16];	/* for messages */
};

/*
 * Accepts `tcp://HOST[:PORT]`, `mqtt://HOST[:PORT]`, `HOST:PORT`,
 * `[IPv6]:PORT`, `unix:PATH` and an absolute PATH (a character device, or a
 * unix socket). Returns 0, or -1 with a message in err.
 */
int transport_parse(const char *text, struct transport_addr *addr, char *err, size_t errlen);

/*
 * Opens the transport. Returns the descriptor, with *pending set when a TCP
 * connect is still in progress (wait for POLLOUT, then transport_connected);
 * or -1 with a message in err.
 */
int transport_open(const struct transport_addr *addr, bool *pending, char *err, size_t errlen);

/* After POLLOUT on a pending connect: 0 when connected, else -1 with err. */
int transport_connected(int fd, char *err, size_t errlen);

#endif
