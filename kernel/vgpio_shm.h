/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * vgpio shared-memory protocol, version 2.
 *
 * This header is the single source of truth for the layout of the ivshmem
 * region shared by the host bridge (vgpio2mqtt) and the guest driver
 * (vgpio.ko). It is included by the kernel module, by userspace C (the guest
 * agent, test programs) and by C++ (the Node-API addon, which exports every
 * constant to TypeScript). docs/protocol.md describes it in prose.
 *
 * All fields are little-endian; the protocol is defined for little-endian
 * guests and hosts only. Every word has exactly one writer, host or guest:
 * no word is read-modify-written by both sides, because a guest's atomic
 * read-modify-write need not be atomic with respect to the host (QEMU's TCG
 * with one vCPU, its default, runs a lock-prefixed add as a plain load and
 * store). The other side only reads a word, with 32-bit loads; release and
 * acquire ordering around the doorbell. Version 1 had irq_pend, set by the
 * host and cleared by the guest, and lost interrupts that way.
 */
#ifndef VGPIO_SHM_H
#define VGPIO_SHM_H

#include <linux/types.h>

#ifdef __KERNEL__
#include <linux/build_bug.h>
#include <linux/stddef.h>
#define VGPIO_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#elif defined(__cplusplus)
#include <cstddef>
#define VGPIO_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#include <stddef.h>
#define VGPIO_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

/* ---- QEMU ivshmem device facts (not ours, but needed on both sides) ---- */

#define VGPIO_PCI_VENDOR_ID		0x1af4
#define VGPIO_PCI_DEVICE_ID		0x1110
/* BAR0 registers, 32-bit accesses only. */
#define VGPIO_BAR0_INTR_MASK		0x00
#define VGPIO_BAR0_INTR_STATUS		0x04
#define VGPIO_BAR0_IV_POSITION		0x08
#define VGPIO_BAR0_DOORBELL		0x0C
#define VGPIO_DOORBELL_VALUE(peer, vector) \
	((((__u32)(peer) & 0xffffu) << 16) | ((__u32)(vector) & 0xffffu))
#define VGPIO_BAR_REGS			0
#define VGPIO_BAR_MSIX			1
#define VGPIO_BAR_SHM			2

/*
 * Doorbell vectors. Both directions use vector 0 of the receiving peer:
 * the host rings the guest's vector 0 after raising interrupts, the guest
 * rings the host's vector 0 after appending to the event ring or acking.
 * Rings coalesce, so the receiver always rescans shared memory.
 */
#define VGPIO_VECTOR_GUEST		0
#define VGPIO_VECTOR_HOST		0
#define VGPIO_VECTORS_MIN		1

/* ---- Header ---- */

#define VGPIO_SHM_MAGIC			0x4F495056u	/* "VPIO" read as LE u32 */
#define VGPIO_SHM_VERSION		2u
#define VGPIO_NGPIO_MIN			1u
#define VGPIO_NGPIO_MAX			1024u
#define VGPIO_PEER_NONE			0xFFFFFFFFu
#define VGPIO_LABEL_LEN			32u
#define VGPIO_NAME_LEN			32u

/* features */
#define VGPIO_FEAT_DOORBELL		(1u << 0)	/* host rings the guest; else the guest polls */
#define VGPIO_FEAT_NAMES		(1u << 1)	/* names table is valid */
#define VGPIO_FEAT_EVENT_RING		(1u << 2)	/* guest -> host event ring is valid */
#define VGPIO_FEAT_KNOWN \
	(VGPIO_FEAT_DOORBELL | VGPIO_FEAT_NAMES | VGPIO_FEAT_EVENT_RING)

struct vgpio_shm_header {
	__u32 magic;		/* 0x00 VGPIO_SHM_MAGIC */
	__u32 version;		/* 0x04 VGPIO_SHM_VERSION */
	__u32 ngpio;		/* 0x08 1..VGPIO_NGPIO_MAX */
	__u32 features;		/* 0x0C VGPIO_FEAT_* */
	__u32 host_gen;		/* 0x10 bumped by the host on each (re)initialisation */
	__u32 host_peer;	/* 0x14 ivshmem peer id the guest rings, or VGPIO_PEER_NONE */
	__u32 guest_gen;	/* 0x18 bumped by the guest on probe and remove: odd = bound */
	__u32 guest_peer;	/* 0x1C guest's IVPosition */
	char label[VGPIO_LABEL_LEN];	/* 0x20 NUL-padded chip label */
	__u32 names_off;	/* 0x40 offset of the names table */
	__u32 ring_off;		/* 0x44 offset of the event ring */
	__u32 ring_len;		/* 0x48 number of ring entries, a power of two */
	__u32 bank_off;		/* 0x4C offset of bank 0 */
	__u32 reserved[11];	/* 0x50 zero */
	__u32 stale_gen;	/* 0x7C host (ivshmem server): guest_gen no current peer proved */
};

#define VGPIO_HDR_MAGIC			0x00
#define VGPIO_HDR_VERSION		0x04
#define VGPIO_HDR_NGPIO			0x08
#define VGPIO_HDR_FEATURES		0x0C
#define VGPIO_HDR_HOST_GEN		0x10
#define VGPIO_HDR_HOST_PEER		0x14
#define VGPIO_HDR_GUEST_GEN		0x18
#define VGPIO_HDR_GUEST_PEER		0x1C
#define VGPIO_HDR_LABEL			0x20
#define VGPIO_HDR_NAMES_OFF		0x40
#define VGPIO_HDR_RING_OFF		0x44
#define VGPIO_HDR_RING_LEN		0x48
#define VGPIO_HDR_BANK_OFF		0x4C
#define VGPIO_HDR_STALE_GEN		0x7C
#define VGPIO_HDR_SIZE			0x80

/* ---- Banks: line n is bit (n % 32) of bank (n / 32) ---- */

#define VGPIO_BANK_LINES		32u
#define VGPIO_BANK_STRIDE		64u
#define VGPIO_BANK_COUNT(ngpio)		(((ngpio) + VGPIO_BANK_LINES - 1) / VGPIO_BANK_LINES)

struct vgpio_shm_bank {
	__u32 in;		/* 0x00 host: level driven onto the line */
	__u32 out;		/* 0x04 guest: level the guest drives */
	__u32 dir;		/* 0x08 guest: 1 = output */
	__u32 irq_en;		/* 0x0C guest: 1 = interrupt unmasked */
	__u32 irq_rise;		/* 0x10 guest: rising-edge trigger */
	__u32 irq_fall;		/* 0x14 guest: falling-edge trigger */
	__u32 irq_high;		/* 0x18 guest: level-high trigger */
	__u32 irq_low;		/* 0x1C guest: level-low trigger */
	__u32 irq_raise;	/* 0x20 host: flips a line's bit to raise an interrupt */
	__u32 ack_req;		/* 0x24 host: ring me after acknowledging these lines */
	__u32 irq_ack;		/* 0x28 guest: flips a line's bit to acknowledge it */
	__u32 reserved[5];	/* 0x2C zero */
};

/*
 * A line's interrupt is pending while its irq_raise and irq_ack bits
 * differ: the host raises only a line that is not pending (so its flip
 * makes it pending), the guest acknowledges only a pending line (so its
 * flip makes it not pending), and each side writes only its own word.
 */
static inline __u32 vgpio_pending(__u32 irq_raise, __u32 irq_ack)
{
	return irq_raise ^ irq_ack;
}

#define VGPIO_BANK_IN			0x00
#define VGPIO_BANK_OUT			0x04
#define VGPIO_BANK_DIR			0x08
#define VGPIO_BANK_IRQ_EN		0x0C
#define VGPIO_BANK_IRQ_RISE		0x10
#define VGPIO_BANK_IRQ_FALL		0x14
#define VGPIO_BANK_IRQ_HIGH		0x18
#define VGPIO_BANK_IRQ_LOW		0x1C
#define VGPIO_BANK_IRQ_RAISE		0x20
#define VGPIO_BANK_ACK_REQ		0x24
#define VGPIO_BANK_IRQ_ACK		0x28

/* ---- Guest -> host event ring (single producer: guest; single consumer: host) ---- */

#define VGPIO_RING_LEN_MIN		16u
#define VGPIO_RING_LEN_MAX		65536u
#define VGPIO_RING_LEN_DEFAULT		256u

struct vgpio_shm_ring_header {
	__u32 head;		/* 0x00 guest: entries produced, free-running */
	__u32 tail;		/* 0x04 host: entries consumed, free-running */
	__u32 dropped;		/* 0x08 guest: entries not written because the ring was full */
	__u32 reserved;		/* 0x0C zero */
};

#define VGPIO_RING_HEAD			0x00
#define VGPIO_RING_TAIL			0x04
#define VGPIO_RING_DROPPED		0x08
#define VGPIO_RING_HEADER_SIZE		0x10

/* event kinds */
#define VGPIO_EV_OUTPUT			1	/* value: new output level */
#define VGPIO_EV_DIRECTION		2	/* value: 1 = output, 0 = input */
#define VGPIO_EV_IRQ_CONFIG		3	/* value: VGPIO_IRQ_* bits now enabled */
#define VGPIO_EV_INPUT_EDGE		4	/* value: level after the edge */

/* value bits of a VGPIO_EV_IRQ_CONFIG entry */
#define VGPIO_IRQ_RISE			(1u << 0)
#define VGPIO_IRQ_FALL			(1u << 1)
#define VGPIO_IRQ_HIGH			(1u << 2)
#define VGPIO_IRQ_LOW			(1u << 3)
#define VGPIO_IRQ_ENABLED		(1u << 4)

struct vgpio_shm_event {
	__u64 guest_ns;		/* 0x00 guest monotonic clock */
	__u16 line;		/* 0x08 line number */
	__u8 kind;		/* 0x0A VGPIO_EV_* */
	__u8 value;		/* 0x0B see VGPIO_EV_* */
	__u32 seq;		/* 0x0C guest's running entry counter (== head when written) */
};

#define VGPIO_EVENT_GUEST_NS		0x00
#define VGPIO_EVENT_LINE		0x08
#define VGPIO_EVENT_KIND		0x0A
#define VGPIO_EVENT_VALUE		0x0B
#define VGPIO_EVENT_SEQ			0x0C
#define VGPIO_EVENT_SIZE		0x10

/* ---- Default layout, chosen by the host; the guest only validates ---- */

#define VGPIO_LAYOUT_ALIGN		64u
#define VGPIO_SHM_SIZE_MIN		4096u

struct vgpio_shm_layout {
	__u32 ngpio;
	__u32 names_off;
	__u32 bank_off;
	__u32 ring_off;
	__u32 ring_len;
	__u32 end;		/* first byte past the last table */
};

static inline __u32 vgpio_align_up(__u32 v, __u32 a)
{
	return (v + a - 1) & ~(a - 1);
}

/*
 * The layout the host writes for ngpio lines and a ring of ring_len entries:
 * header, names table, banks, ring, each 64-byte aligned.
 * Callers check ngpio and ring_len first (vgpio_shm_check_layout).
 */
static inline struct vgpio_shm_layout vgpio_shm_default_layout(__u32 ngpio, __u32 ring_len)
{
	struct vgpio_shm_layout l;

	l.ngpio = ngpio;
	l.ring_len = ring_len;
	l.names_off = VGPIO_HDR_SIZE;
	l.bank_off = vgpio_align_up(l.names_off + ngpio * VGPIO_NAME_LEN, VGPIO_LAYOUT_ALIGN);
	l.ring_off = vgpio_align_up(l.bank_off + VGPIO_BANK_COUNT(ngpio) * VGPIO_BANK_STRIDE,
				    VGPIO_LAYOUT_ALIGN);
	l.end = l.ring_off + VGPIO_RING_HEADER_SIZE + ring_len * VGPIO_EVENT_SIZE;
	return l;
}

/* Reasons vgpio_shm_check_layout() rejects a layout. */
#define VGPIO_LAYOUT_OK			0
#define VGPIO_LAYOUT_BAD_NGPIO		1
#define VGPIO_LAYOUT_BAD_RING_LEN	2
#define VGPIO_LAYOUT_MISALIGNED		3
#define VGPIO_LAYOUT_OVERLAP		4
#define VGPIO_LAYOUT_OUT_OF_BOUNDS	5

static inline int vgpio_range_ok(__u64 off, __u64 len, __u64 size)
{
	return off >= VGPIO_HDR_SIZE && off <= size && len <= size - off;
}

static inline int vgpio_ranges_disjoint(__u64 a, __u64 alen, __u64 b, __u64 blen)
{
	return a + alen <= b || b + blen <= a;
}

/*
 * Bounds-check a layout read from shared memory against the region size.
 * Both sides call this on a private snapshot of the header (never on the
 * live words, which the other side may change underneath). names_off is
 * only checked when has_names is set, ring_off/ring_len when has_ring is.
 */
static inline int vgpio_shm_check_layout(const struct vgpio_shm_layout *l, __u64 size,
					 int has_names, int has_ring)
{
	__u64 names_len = (__u64)l->ngpio * VGPIO_NAME_LEN;
	__u64 banks_len = (__u64)VGPIO_BANK_COUNT((__u64)l->ngpio) * VGPIO_BANK_STRIDE;
	__u64 ring_bytes = VGPIO_RING_HEADER_SIZE + (__u64)l->ring_len * VGPIO_EVENT_SIZE;

	if (l->ngpio < VGPIO_NGPIO_MIN || l->ngpio > VGPIO_NGPIO_MAX)
		return VGPIO_LAYOUT_BAD_NGPIO;
	if (has_ring && (l->ring_len < VGPIO_RING_LEN_MIN || l->ring_len > VGPIO_RING_LEN_MAX ||
			 (l->ring_len & (l->ring_len - 1)) != 0))
		return VGPIO_LAYOUT_BAD_RING_LEN;
	if ((l->bank_off % 4) != 0 || (has_ring && (l->ring_off % 8) != 0))
		return VGPIO_LAYOUT_MISALIGNED;
	if (!vgpio_range_ok(l->bank_off, banks_len, size) ||
	    (has_names && !vgpio_range_ok(l->names_off, names_len, size)) ||
	    (has_ring && !vgpio_range_ok(l->ring_off, ring_bytes, size)))
		return VGPIO_LAYOUT_OUT_OF_BOUNDS;
	if ((has_names && !vgpio_ranges_disjoint(l->names_off, names_len, l->bank_off, banks_len)) ||
	    (has_ring && !vgpio_ranges_disjoint(l->ring_off, ring_bytes, l->bank_off, banks_len)) ||
	    (has_names && has_ring &&
	     !vgpio_ranges_disjoint(l->names_off, names_len, l->ring_off, ring_bytes)))
		return VGPIO_LAYOUT_OVERLAP;
	return VGPIO_LAYOUT_OK;
}

/* ---- Compile-time checks: the structs match the offsets above ---- */

VGPIO_STATIC_ASSERT(sizeof(struct vgpio_shm_header) == VGPIO_HDR_SIZE, "header size");
VGPIO_STATIC_ASSERT(offsetof(struct vgpio_shm_header, host_gen) == VGPIO_HDR_HOST_GEN,
		    "host_gen offset");
VGPIO_STATIC_ASSERT(offsetof(struct vgpio_shm_header, guest_peer) == VGPIO_HDR_GUEST_PEER,
		    "guest_peer offset");
VGPIO_STATIC_ASSERT(offsetof(struct vgpio_shm_header, label) == VGPIO_HDR_LABEL,
		    "label offset");
VGPIO_STATIC_ASSERT(offsetof(struct vgpio_shm_header, names_off) == VGPIO_HDR_NAMES_OFF,
		    "names_off offset");
VGPIO_STATIC_ASSERT(offsetof(struct vgpio_shm_header, stale_gen) == VGPIO_HDR_STALE_GEN,
		    "stale_gen offset");
VGPIO_STATIC_ASSERT(offsetof(struct vgpio_shm_header, bank_off) == VGPIO_HDR_BANK_OFF,
		    "bank_off offset");
VGPIO_STATIC_ASSERT(sizeof(struct vgpio_shm_bank) == VGPIO_BANK_STRIDE, "bank stride");
VGPIO_STATIC_ASSERT(offsetof(struct vgpio_shm_bank, irq_low) == VGPIO_BANK_IRQ_LOW,
		    "irq_low offset");
VGPIO_STATIC_ASSERT(offsetof(struct vgpio_shm_bank, irq_raise) == VGPIO_BANK_IRQ_RAISE,
		    "irq_raise offset");
VGPIO_STATIC_ASSERT(offsetof(struct vgpio_shm_bank, ack_req) == VGPIO_BANK_ACK_REQ,
		    "ack_req offset");
VGPIO_STATIC_ASSERT(offsetof(struct vgpio_shm_bank, irq_ack) == VGPIO_BANK_IRQ_ACK,
		    "irq_ack offset");
VGPIO_STATIC_ASSERT(sizeof(struct vgpio_shm_ring_header) == VGPIO_RING_HEADER_SIZE,
		    "ring header size");
VGPIO_STATIC_ASSERT(offsetof(struct vgpio_shm_ring_header, dropped) == VGPIO_RING_DROPPED,
		    "dropped offset");
VGPIO_STATIC_ASSERT(sizeof(struct vgpio_shm_event) == VGPIO_EVENT_SIZE, "event size");
VGPIO_STATIC_ASSERT(offsetof(struct vgpio_shm_event, line) == VGPIO_EVENT_LINE, "line offset");
VGPIO_STATIC_ASSERT(offsetof(struct vgpio_shm_event, kind) == VGPIO_EVENT_KIND, "kind offset");
VGPIO_STATIC_ASSERT(offsetof(struct vgpio_shm_event, value) == VGPIO_EVENT_VALUE,
		    "value offset");
VGPIO_STATIC_ASSERT(offsetof(struct vgpio_shm_event, seq) == VGPIO_EVENT_SEQ, "seq offset");

#endif /* VGPIO_SHM_H */
