/*
 * mqtt-send: drives the agent's MQTT client (src/mqtt_client.c, the same
 * code vgpio-agent runs) from the host tests, without GPIO hardware.
 *
 *   mqtt-send --broker ADDR [--client-id ID] [--will-topic T --will-payload P]
 *             [--keepalive S] [--reconnect-max MS] [--queue N]
 *
 * Reads lines "QOS RETAIN TOPIC PAYLOAD" from stdin and publishes them;
 * prints "connected N" after each accepted CONNECT, "queued TAG" per line
 * and "acked TAG" per PUBACK. At end of input it delivers what is pending
 * (up to 5 s), disconnects cleanly and exits 0 if everything was delivered.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mqtt_client.h"
#include "mqtt_packet.h"

static struct mqtt_client *client;

static void on_connect(void *ctx)
{
	(void)ctx;
	printf("connected %" PRIu64 "\n", mqtt_client_stats(client).connects);
	fflush(stdout);
}

static void on_ack(void *ctx, uint64_t tag)
{
	(void)ctx;
	printf("acked %" PRIu64 "\n", tag);
	fflush(stdout);
}

static void publish_line(char *line)
{
	char *qos = strtok(line, " "), *retain = strtok(NULL, " "), *topic = strtok(NULL, " ");
	char *payload = strtok(NULL, "");
	uint64_t tag;

	if (qos == NULL || retain == NULL || topic == NULL) {
		fprintf(stderr, "mqtt-send: expected 'QOS RETAIN TOPIC PAYLOAD'\n");
		return;
	}
	tag = mqtt_client_publish(client, topic, payload ? payload : "", (uint8_t)atoi(qos), atoi(retain) != 0);
	printf("queued %" PRIu64 "\n", tag);
	fflush(stdout);
}

/* Splits what stdin delivered into lines; returns false at end of input. */
static bool read_stdin(struct buf *in)
{
	char chunk[4096];
	ssize_t n = read(STDIN_FILENO, chunk, sizeof(chunk));
	uint8_t *nl;

	if (n < 0)
		return errno == EINTR || errno == EAGAIN;
	if (n == 0)
		return false;
	buf_append(in, chunk, (size_t)n);
	while ((nl = memchr(in->data, '\n', in->len)) != NULL) {
		*nl = '\0';
		publish_line((char *)in->data);
		buf_consume(in, (size_t)(nl - in->data) + 1);
	}
	return true;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "broker", required_argument, NULL, 'b' },
		{ "client-id", required_argument, NULL, 'i' },
		{ "will-topic", required_argument, NULL, 't' },
		{ "will-payload", required_argument, NULL, 'p' },
		{ "keepalive", required_argument, NULL, 'k' },
		{ "reconnect-max", required_argument, NULL, 'r' },
		{ "queue", required_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ 0 },
	};
	struct mqtt_client_config cfg = {
		.client_id = "mqtt-send",
		.keepalive_s = 30,
		.reconnect_min_ms = 100,
		.reconnect_max_ms = 1000,
		.queue_limit = 10000,
		.max_inflight = 20,
		.on_connect = on_connect,
		.on_ack = on_ack,
	};
	const char *broker = NULL;
	char err[512];
	struct buf in = { 0 };
	bool more = true, delivered;

	int opt;

	log_program = "mqtt-send";
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'b': broker = optarg; break;
		case 'i': cfg.client_id = optarg; break;
		case 't': cfg.will_topic = optarg; break;
		case 'p': cfg.will_payload = optarg; break;
		case 'k': cfg.keepalive_s = (uint16_t)atoi(optarg); break;
		case 'r': cfg.reconnect_max_ms = (unsigned int)atoi(optarg); break;
		case 'q': cfg.queue_limit = (size_t)atol(optarg); break;
		case 'v': log_threshold = LOG_DEBUG; break;
		default: return 2;
		}
	}
	if (broker == NULL || transport_parse(broker, &cfg.broker, err, sizeof(err)) != 0) {
		fprintf(stderr, "mqtt-send: %s\n", broker == NULL ? "--broker is required" : err);
		return 2;
	}
	if (cfg.will_topic != NULL && cfg.will_payload == NULL)
		cfg.will_payload = "";
	signal(SIGPIPE, SIG_IGN);
	fcntl(STDIN_FILENO, F_SETFL, fcntl(STDIN_FILENO, F_GETFL) | O_NONBLOCK);
	client = mqtt_client_new(&cfg);
	if (client == NULL)
		return 1;
	/* At end of input, keep going (reconnecting if need be) until all is delivered or 5 s pass. */
	for (int waited_ms = 0; more || (mqtt_client_pending(client) > 0 && waited_ms < 5000);) {
		struct pollfd pfds[2] = { { .fd = more ? STDIN_FILENO : -1, .events = POLLIN } };
		int timeout = mqtt_client_timeout_ms(client);

		if (!more && (timeout < 0 || timeout > 50))
			timeout = 50;
		if (!mqtt_client_pollfd(client, &pfds[1]))
			pfds[1].fd = -1;
		if (poll(pfds, 2, timeout) < 0 && errno != EINTR)
			return 1;
		if (pfds[0].revents)
			more = read_stdin(&in);
		if (pfds[1].fd >= 0)
			mqtt_client_handle(client, pfds[1].revents);
		mqtt_client_tick(client);
		if (!more)
			waited_ms += 50;
	}
	delivered = mqtt_client_finish(client, 5000);
	mqtt_client_free(client);
	buf_free(&in);
	return delivered ? 0 : 1;
}
