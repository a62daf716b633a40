/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vgpio: private state shared by the driver's source files.
 *
 * The shared-memory layout itself lives in vgpio_shm.h; this header only
 * holds what the guest keeps to itself.
 */
#ifndef VGPIO_H
#define VGPIO_H

#include <linux/atomic.h>
#include <linux/gpio/driver.h>
#include <linux/irq_work.h>
#include <linux/pci.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>

#include "vgpio_shm.h"

/*
 * The guest's own copy of everything it writes into a bank. The shared
 * words are only ever stored from these copies, so a host that scribbles
 * over out/dir/irq_* cannot change what the guest believes it drives.
 * Every field is written under vgpio.lock; out and dir are also read
 * without it (gpiolib's get and get_direction), with READ_ONCE().
 */
struct vgpio_bank_state {
	u32 out;
	u32 dir;
	u32 enabled;		/* interrupt unmasked */
	u32 rise, fall, high, low;	/* armed triggers (cleared on irq shutdown) */
	u32 ack;		/* irq_ack as the guest last stored it: only the guest writes it */
	u32 inflight;		/* pending lines taken and dispatched, acknowledged on unmask */
	u32 soft_pend;		/* interrupts raised by the guest itself (polling, level re-fire) */
	u32 last_in;		/* polling mode: in as last sampled */
	u32 soft_seen;		/* polling mode: edge delivered from a sample, not yet pending */
	u32 soft_level;		/* polling mode: the level that edge went to */
};

/* One per ivshmem device: the gpiochip, its irq_chip and the shared region. */
struct vgpio {
	struct pci_dev *pdev;
	void __iomem *regs;		/* BAR0 */
	u8 *shm;			/* BAR2, write-back */
	resource_size_t shm_size;
	struct vgpio_shm_layout layout;	/* validated snapshot, never re-read */
	u32 features;
	unsigned int nbanks;
	bool doorbell;			/* MSI-X interrupt from the host; else polling */
	bool bound;			/* guest_gen made odd by this probe */

	struct gpio_chip gc;
	char label[VGPIO_LABEL_LEN];

	/*
	 * Protects banks[], ring_head, ring_dropped and spurious, and
	 * serialises the guest's stores of the shared words it owns (a
	 * bank's out, dir, irq_en, irq_rise/fall/high/low and irq_ack, the
	 * ring's head, dropped and entries) so that each stored word is
	 * the private copy it was computed from. It also makes "read what
	 * is pending, take it, acknowledge it" one step on all CPUs (see
	 * vgpio_irq.c). Raw: it is taken in the irq_chip callbacks, which
	 * run under the irq descriptor's raw lock, and in the dispatch
	 * irq_work, which runs in hard-irq context even on PREEMPT_RT; a
	 * lock that may sleep is allowed in neither.
	 */
	raw_spinlock_t lock;
	struct vgpio_bank_state *banks;
	u32 ring_head;			/* private producer index */
	u32 ring_dropped;
	unsigned long spurious;		/* raised lines with no armed interrupt */

	struct irq_work dispatch_work;	/* runs soft_pend (and pending lines) in hard-irq context */
	struct delayed_work poll_work;
	unsigned long poll_jiffies;
};

/* Line n is bit n % 32 of bank n / 32. */
static inline unsigned int vgpio_bank(unsigned int line)
{
	return line / VGPIO_BANK_LINES;
}

static inline u32 vgpio_bit(unsigned int line)
{
	return BIT(line % VGPIO_BANK_LINES);
}

#define VGPIO_BANKS_MAX		VGPIO_BANK_COUNT(VGPIO_NGPIO_MAX)

/*
 * A 32-bit word of the shared region. The layout check guarantees every
 * bank and ring word lies inside the region and is 4-byte aligned, so
 * 32-bit atomics on it are single-copy atomic for the host as well.
 */
static inline atomic_t *vgpio_word(struct vgpio *vg, u32 off)
{
	return (atomic_t *)(vg->shm + off);
}

static inline atomic_t *vgpio_bank_word(struct vgpio *vg, unsigned int bank, u32 reg)
{
	return vgpio_word(vg, vg->layout.bank_off + bank * VGPIO_BANK_STRIDE + reg);
}

/* The host's `in` word of a bank: the levels the host drives onto the lines. */
static inline u32 vgpio_read_in(struct vgpio *vg, unsigned int bank)
{
	return (u32)atomic_read_acquire(vgpio_bank_word(vg, bank, VGPIO_BANK_IN));
}

/*
 * vgpio_ring.c. vgpio_ring_post() needs vg->lock (it owns the ring's
 * producer state); the caller rings the host with vgpio_notify_host()
 * after dropping it, whether or not the entry fit.
 */
void vgpio_ring_post(struct vgpio *vg, unsigned int line, u8 kind, u8 value);
void vgpio_notify_host(struct vgpio *vg);

/* vgpio_gpio.c */
void vgpio_gpio_init(struct vgpio *vg, const char *const *names);

/* vgpio_irq.c */
void vgpio_irq_init(struct vgpio *vg);
irqreturn_t vgpio_doorbell_isr(int irq, void *data);
void vgpio_poll_start(struct vgpio *vg);
void vgpio_irq_stop(struct vgpio *vg);
void vgpio_irq_dbg_show(struct seq_file *s, struct vgpio *vg, unsigned int line);

#endif /* VGPIO_H */
