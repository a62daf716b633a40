// SPDX-License-Identifier: GPL-2.0-only
/*
 * atomadd: increments one 32-bit word of a shared file with
 * __atomic_fetch_add (a lock-prefixed add on x86), to show whether a TCG
 * guest's atomic read-modify-writes are atomic with respect to the host.
 *
 * The file holds three words: the counter, a ready flag and a done flag.
 *
 *   atomadd host FILE          sets the ready flag, adds until the done
 *                              flag is set, and prints how often it added
 *   atomadd guest FILE COUNT   waits for the ready flag, adds COUNT times,
 *                              then sets the done flag
 *
 * So the host adds for the whole time the guest does, and the counter ends
 * at the host's count plus COUNT exactly when every add was atomic.
 * FILE is the shared-memory file on the host and the ivshmem device's
 * BAR2 (/sys/bus/pci/devices/.../resource2) in the guest.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

enum { COUNTER, READY, DONE, WORDS };

int main(int argc, char **argv)
{
	uint32_t *w;
	int fd;

	if (argc < 3 || (strcmp(argv[1], "guest") == 0 && argc != 4) ||
	    (strcmp(argv[1], "host") == 0 && argc != 3)) {
		fprintf(stderr, "usage: %s guest FILE COUNT | host FILE\n", argv[0]);
		return 2;
	}
	fd = open(argv[2], O_RDWR | O_SYNC);
	if (fd < 0) {
		perror(argv[2]);
		return 1;
	}
	w = mmap(NULL, WORDS * sizeof(*w), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (w == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	if (strcmp(argv[1], "guest") == 0) {
		unsigned long count = strtoul(argv[3], NULL, 0), i;

		while (!__atomic_load_n(&w[READY], __ATOMIC_ACQUIRE))
			;
		for (i = 0; i < count; i++)
			__atomic_fetch_add(&w[COUNTER], 1, __ATOMIC_SEQ_CST);
		__atomic_store_n(&w[DONE], 1, __ATOMIC_RELEASE);
	} else {
		unsigned long added = 0;

		__atomic_store_n(&w[READY], 1, __ATOMIC_RELEASE);
		while (!__atomic_load_n(&w[DONE], __ATOMIC_ACQUIRE)) {
			__atomic_fetch_add(&w[COUNTER], 1, __ATOMIC_SEQ_CST);
			added++;
		}
		printf("%lu\n", added);
	}
	return 0;
}
