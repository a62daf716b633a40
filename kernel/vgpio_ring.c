// SPDX-License-Identifier: GPL-2.0-only
/*
 * vgpio: the guest -> host event ring and the host's doorbell.
 *
 * The guest is the ring's only producer. It keeps its own head and dropped
 * counts and only ever stores them into shared memory, so a host writing
 * garbage into head or dropped cannot make the guest write outside the
 * ring; a garbage tail only makes the ring look full (entries are then
 * counted as dropped and the host resynchronises from the banks).
 */
#include <linux/io.h>
#include <linux/ktime.h>

#include "vgpio.h"

/*
 * Appends one entry, or counts it as dropped when the ring is full. Under
 * vg->lock: it owns ring_head and ring_dropped, and two CPUs must not
 * fill the same slot.
 */
void vgpio_ring_post(struct vgpio *vg, unsigned int line, u8 kind, u8 value)
{
	u32 ring_off = vg->layout.ring_off;
	u32 len = vg->layout.ring_len;
	struct vgpio_shm_event *ev;
	u32 head = vg->ring_head;
	u32 tail;

	lockdep_assert_held(&vg->lock);

	if (!(vg->features & VGPIO_FEAT_EVENT_RING))
		return;	/* no ring: the host still rescans the banks when rung */

	tail = atomic_read_acquire(vgpio_word(vg, ring_off + VGPIO_RING_TAIL));
	if (head - tail >= len) {
		vg->ring_dropped++;
		atomic_set_release(vgpio_word(vg, ring_off + VGPIO_RING_DROPPED),
				   vg->ring_dropped);
		return;
	}

	ev = (struct vgpio_shm_event *)(vg->shm + ring_off + VGPIO_RING_HEADER_SIZE +
					(head & (len - 1)) * VGPIO_EVENT_SIZE);
	WRITE_ONCE(ev->guest_ns, ktime_get_ns());
	WRITE_ONCE(ev->line, line);
	WRITE_ONCE(ev->kind, kind);
	WRITE_ONCE(ev->value, value);
	WRITE_ONCE(ev->seq, head);
	/* Publish: the entry is complete before the host can see head move. */
	vg->ring_head = head + 1;
	atomic_set_release(vgpio_word(vg, ring_off + VGPIO_RING_HEAD), vg->ring_head);
}

/*
 * Rings the host's vector. host_peer is read live: a restarted host may
 * come back with another peer id. Unknown peers are ignored by QEMU, and
 * writel() orders every earlier store to the region before the doorbell.
 */
void vgpio_notify_host(struct vgpio *vg)
{
	u32 peer = atomic_read_acquire(vgpio_word(vg, VGPIO_HDR_HOST_PEER));

	if (peer == VGPIO_PEER_NONE)
		return;
	writel(VGPIO_DOORBELL_VALUE(peer, VGPIO_VECTOR_HOST), vg->regs + VGPIO_BAR0_DOORBELL);
}
