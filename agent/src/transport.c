#include "transport.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#define DEFAULT_PORT "1883"
#define VIRTIO_PORTS_DIR "/dev/virtio-ports/"

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int parse_host_port(const char *s, struct transport_addr *addr, char *err, size_t errlen)
{
	const char *host = s, *port = NULL, *end;
	size_t host_len;

	if (*s == '[') {
		end = strchr(s, ']');
		if (end == NULL)
			return fail(err, errlen, "bad broker address '%s': missing ']'", s);
		host = s + 1;
		host_len = (size_t)(end - host);
		if (end[1] == ':')
			port = end + 2;
		else if (end[1] != '\0')
			return fail(err, errlen, "bad broker address '%s': expected ':PORT' after ']'", s);
	} else {
		end = strrchr(s, ':');
		if (end != NULL && strchr(s, ':') != end)
			return fail(err, errlen, "bad broker address '%s': write IPv6 addresses as [ADDR]:PORT", s);
		host_len = end != NULL ? (size_t)(end - s) : strlen(s);
		if (end != NULL)
			port = end + 1;
	}
	if (host_len == 0 || host_len >= sizeof(addr->host))
		return fail(err, errlen, "bad broker address '%s': %s host name", s, host_len ? "overlong" : "empty");
	memcpy(addr->host, host, host_len);
	addr->host[host_len] = '\0';
	if (port == NULL) {
		strcpy(addr->port, DEFAULT_PORT);
	} else {
		char *stop;
		long n = strtol(port, &stop, 10);

		if (*port == '\0' || *stop != '\0' || n < 1 || n > 65535)
			return fail(err, errlen, "bad broker address '%s': port '%s' is not 1..65535", s, port);
		snprintf(addr->port, sizeof(addr->port), "%ld", n);
	}
	addr->kind = TRANSPORT_TCP;
	return 0;
}

int transport_parse(const char *text, struct transport_addr *addr, char *err, size_t errlen)
{
	const char *rest;

	memset(addr, 0, sizeof(*addr));
	if (strlen(text) >= sizeof(addr->path))
		return fail(err, errlen, "bad broker address: longer than %zu bytes", sizeof(addr->path) - 1);
	snprintf(addr->text, sizeof(addr->text), "%s", text);
	if (strncmp(text, "unix:", 5) == 0 || text[0] == '/') {
		rest = text[0] == '/' ? text : text + 5;
		if (strncmp(rest, "//", 2) == 0)
			rest += 2;
		if (rest[0] != '/')
			return fail(err, errlen, "bad broker address '%s': '%s' is not an absolute path", text, rest);
		addr->kind = text[0] == '/' ? TRANSPORT_PATH : TRANSPORT_UNIX;
		snprintf(addr->path, sizeof(addr->path), "%s", rest);
		return 0;
	}
	if (strncmp(text, "tcp://", 6) == 0)
		rest = text + 6;
	else if (strncmp(text, "mqtt://", 7) == 0)
		rest = text + 7;
	else if (strstr(text, "://") != NULL)
		return fail(err, errlen,
			    "bad broker address '%s': scheme not supported (use tcp://HOST:PORT, unix:PATH or a device path)",
			    text);
	else
		rest = text;
	return parse_host_port(rest, addr, err, errlen);
}

static int set_nonblocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

static int open_tcp(const struct transport_addr *addr, bool *pending, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC };
	struct addrinfo *res;
	int one = 1, fd, rc;

	rc = getaddrinfo(addr->host, addr->port, &hints, &res);
	if (rc != 0)
		return fail(err, errlen, "cannot resolve %s: %s", addr->host, gai_strerror(rc));
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		freeaddrinfo(res);
		return fail(err, errlen, "cannot create a socket: %s", strerror(errno));
	}
	/* Each edge is sent at once, not held back for more bytes. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	rc = connect(fd, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	if (rc == 0) {
		*pending = false;
		return fd;
	}
	if (errno == EINPROGRESS) {
		*pending = true;
		return fd;
	}
	snprintf(err, errlen, "cannot connect to %s: %s", addr->text, strerror(errno));
	close(fd);
	return -1;
}

static int open_unix(const char *path, const char *text, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		return fail(err, errlen, "unix socket path too long: %s", path);
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(err, errlen, "cannot create a socket: %s", strerror(errno));
	/* Unix connects complete at once or fail; EAGAIN means the backlog is full. */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		snprintf(err, errlen, "cannot connect to %s: %s", text, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * udev makes /dev/virtio-ports/<name>; minimal guests without udev or mdev
 * only have /dev/vportNpM, whose name is in sysfs.
 */
static int find_virtio_port(const char *name, char *path, size_t pathlen)
{
	DIR *dir = opendir("/sys/class/virtio-ports");
	struct dirent *e;
	int found = -1;

	if (dir == NULL)
		return -1;
	while (found != 0 && (e = readdir(dir)) != NULL) {
		char file[512], buf[256];
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "/sys/class/virtio-ports/%s/name", e->d_name);
		f = fopen(file, "re");
		if (f == NULL)
			continue;
		if (fgets(buf, sizeof(buf), f) != NULL) {
			buf[strcspn(buf, "\n")] = '\0';
			if (strcmp(buf, name) == 0) {
				snprintf(path, pathlen, "/dev/%s", e->d_name);
				found = 0;
			}
		}
		fclose(f);
	}
	closedir(dir);
	return found;
}

static int open_path(const struct transport_addr *addr, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s", addr->path);
	if (stat(path, &st) != 0 && errno == ENOENT &&
	    strncmp(path, VIRTIO_PORTS_DIR, strlen(VIRTIO_PORTS_DIR)) == 0 &&
	    find_virtio_port(addr->path + strlen(VIRTIO_PORTS_DIR), path, sizeof(path)) != 0)
		return fail(err, errlen,
			    "%s does not exist, and no virtio-serial port is named '%s' (load virtio_console; give QEMU -device virtserialport,name=...)",
			    addr->path, addr->path + strlen(VIRTIO_PORTS_DIR));
	if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		return open_unix(path, addr->text, err, errlen);
	fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == EBUSY)
			return fail(err, errlen, "cannot open %s: it is in use by another program", path);
		return fail(err, errlen, "cannot open %s: %s", path, strerror(errno));
	}
	if (isatty(fd)) {
		/* A serial line: raw bytes, no echo, no line discipline. */
		struct termios t;

		if (tcgetattr(fd, &t) == 0) {
			cfmakeraw(&t);
			tcsetattr(fd, TCSANOW, &t);
		}
	}
	return fd;
}

int transport_open(const struct transport_addr *addr, bool *pending, char *err, size_t errlen)
{
	int fd;

	*pending = false;
	switch (addr->kind) {
	case TRANSPORT_TCP:
		return open_tcp(addr, pending, err, errlen);
	case TRANSPORT_UNIX:
		return open_unix(addr->path, addr->text, err, errlen);
	case TRANSPORT_PATH:
		fd = open_path(addr, err, errlen);
		if (fd >= 0 && set_nonblocking(fd) != 0) {
			snprintf(err, errlen, "cannot make %s non-blocking: %s", addr->path, strerror(errno));
			close(fd);
			return -1;
		}
		return fd;
	}
	return fail(err, errlen, "unknown transport");
}

int transport_connected(int fd, char *err, size_t errlen)
{
	int error = 0;
	socklen_t len = sizeof(error);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0)
		error = errno;
	if (error == 0)
		return 0;
	snprintf(err, errlen, "%s", strerror(error));
	return -1;
}
