// SPDX-License-Identifier: GPL-2.0-only
/*
 * vgpio: the irq_chip, the doorbell handler and polling mode.
 *
 * A line is pending while its irq_raise bit (the host's) and its irq_ack
 * bit (ours) differ: that is the line's interrupt latch. The guest takes a
 * pending line (marks it in flight) and dispatches it; it acknowledges it
 * (flips its irq_ack bit), and rings the host if the host asked for that
 * with ack_req, only when the line is unmasked again. Every trigger type
 * runs the level flow handler, so for a threaded consumer (gpiolib's
 * character device requests its interrupts IRQF_ONESHOT) that is after the
 * consumer's thread has read the line: the host cannot apply its next
 * queued change underneath it, and a burst of host changes arrives as
 * exactly one event per change.
 *
 * irq_ack is ours alone: we keep it in banks[].ack and only ever store it,
 * never read-modify-write a word the host writes too (under QEMU's TCG with
 * one vCPU our atomics are not atomic with respect to the host). Pending
 * lines are computed, taken and acknowledged under vg->lock, so a CPU
 * never acts on a pending bit another CPU has acknowledged meanwhile.
 *
 * Level triggers re-fire from the guest itself: whenever a level-triggered
 * line is unmasked while its level still holds, the guest raises it again
 * (soft_pend) without the host's help.
 *
 * Polling mode (no doorbell) runs the same dispatch from a timer, and also
 * raises soft_pend for edges it sees by comparing `in` with its last
 * sample, for hosts that do not raise interrupts without a doorbell. A host
 * that does raise them writes `in` first, so a sample may see the change
 * before the line is pending: the first time the line is pending after
 * such a sampled edge, with `in` still at the sampled level, it is that
 * same change (the host cannot change `in` while the line is pending) and
 * it is acknowledged without a second dispatch.
 */
#include <linux/interrupt.h>
#include <linux/irq.h>
#include <linux/jiffies.h>
#include <linux/seq_file.h>

#include "vgpio.h"

static struct vgpio *vgpio_from_irqd(struct irq_data *d)
{
	return gpiochip_get_data(irq_data_get_irq_chip_data(d));
}

/* The line's VGPIO_EV_IRQ_CONFIG value: its triggers and whether it is unmasked. */
static u8 vgpio_irq_config(struct vgpio *vg, unsigned int line)
{
	struct vgpio_bank_state *st = &vg->banks[vgpio_bank(line)];
	u32 bit = vgpio_bit(line);

	lockdep_assert_held(&vg->lock);

	return ((st->rise & bit) ? VGPIO_IRQ_RISE : 0) |
	       ((st->fall & bit) ? VGPIO_IRQ_FALL : 0) |
	       ((st->high & bit) ? VGPIO_IRQ_HIGH : 0) |
	       ((st->low & bit) ? VGPIO_IRQ_LOW : 0) |
	       ((st->enabled & bit) ? VGPIO_IRQ_ENABLED : 0);
}

/* Stores the guest's trigger words for one bank from its private copy. */
static void vgpio_store_triggers(struct vgpio *vg, unsigned int bank)
{
	struct vgpio_bank_state *st = &vg->banks[bank];

	lockdep_assert_held(&vg->lock);

	atomic_set(vgpio_bank_word(vg, bank, VGPIO_BANK_IRQ_RISE), st->rise);
	atomic_set(vgpio_bank_word(vg, bank, VGPIO_BANK_IRQ_FALL), st->fall);
	atomic_set(vgpio_bank_word(vg, bank, VGPIO_BANK_IRQ_HIGH), st->high);
	atomic_set_release(vgpio_bank_word(vg, bank, VGPIO_BANK_IRQ_LOW), st->low);
}

/* Sets the line's triggers to `type` (IRQ_TYPE_*) and stores them. */
static void vgpio_arm(struct vgpio *vg, unsigned int line, unsigned int type)
{
	unsigned int bank = vgpio_bank(line);
	struct vgpio_bank_state *st = &vg->banks[bank];
	u32 bit = vgpio_bit(line);

	lockdep_assert_held(&vg->lock);

	st->rise = (type & IRQ_TYPE_EDGE_RISING) ? st->rise | bit : st->rise & ~bit;
	st->fall = (type & IRQ_TYPE_EDGE_FALLING) ? st->fall | bit : st->fall & ~bit;
	st->high = (type & IRQ_TYPE_LEVEL_HIGH) ? st->high | bit : st->high & ~bit;
	st->low = (type & IRQ_TYPE_LEVEL_LOW) ? st->low | bit : st->low & ~bit;
	vgpio_store_triggers(vg, bank);
}

/* Does the line's armed level trigger hold right now? */
static bool vgpio_level_holds(struct vgpio *vg, unsigned int bank, u32 bit)
{
	struct vgpio_bank_state *st = &vg->banks[bank];
	u32 in = vgpio_read_in(vg, bank);

	lockdep_assert_held(&vg->lock);

	return (st->high & in & bit) || (st->low & ~in & bit);
}

/*
 * The bank's lines the host raised and we have not acknowledged. Under
 * vg->lock, so that what is pending cannot change by another CPU's
 * acknowledgment before the caller acts on it.
 */
static u32 vgpio_pend(struct vgpio *vg, unsigned int bank)
{
	u32 raise = (u32)atomic_read_acquire(vgpio_bank_word(vg, bank, VGPIO_BANK_IRQ_RAISE));

	lockdep_assert_held(&vg->lock);

	return vgpio_pending(raise, vg->banks[bank].ack);
}

/*
 * Acknowledges those of `bits` that are pending; returns true if the host
 * queued changes behind one of them (ack_req) and must be rung to apply
 * the next.
 */
static bool vgpio_ack_locked(struct vgpio *vg, unsigned int bank, u32 bits)
{
	struct vgpio_bank_state *st = &vg->banks[bank];
	u32 done = bits & vgpio_pend(vg, bank);

	lockdep_assert_held(&vg->lock);

	if (!done)
		return false;
	st->ack ^= done;
	atomic_set(vgpio_bank_word(vg, bank, VGPIO_BANK_IRQ_ACK), st->ack);
	/*
	 * Store irq_ack, then load ack_req: the host stores ack_req, then
	 * loads irq_ack, so one of us sees the other and no ring is missed.
	 */
	smp_mb();
	return done & (u32)atomic_read(vgpio_bank_word(vg, bank, VGPIO_BANK_ACK_REQ));
}

/* Acknowledges the line if it is pending, ringing the host if it asked. */
static void vgpio_release_pend(struct vgpio *vg, unsigned int line)
{
	unsigned long flags;
	bool ring;

	raw_spin_lock_irqsave(&vg->lock, flags);
	ring = vgpio_ack_locked(vg, vgpio_bank(line), vgpio_bit(line));
	raw_spin_unlock_irqrestore(&vg->lock, flags);
	if (ring)
		vgpio_notify_host(vg);
}

static void vgpio_post_config(struct vgpio *vg, unsigned int line)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&vg->lock, flags);
	vgpio_ring_post(vg, line, VGPIO_EV_IRQ_CONFIG, vgpio_irq_config(vg, line));
	raw_spin_unlock_irqrestore(&vg->lock, flags);
	vgpio_notify_host(vg);
}

static void vgpio_irq_mask(struct irq_data *d)
{
	struct vgpio *vg = vgpio_from_irqd(d);
	irq_hw_number_t line = irqd_to_hwirq(d);
	unsigned int bank = vgpio_bank(line);
	unsigned long flags;

	raw_spin_lock_irqsave(&vg->lock, flags);
	vg->banks[bank].enabled &= ~vgpio_bit(line);
	atomic_set_release(vgpio_bank_word(vg, bank, VGPIO_BANK_IRQ_EN), vg->banks[bank].enabled);
	raw_spin_unlock_irqrestore(&vg->lock, flags);
	gpiochip_disable_irq(&vg->gc, line);
}

static void vgpio_irq_unmask(struct irq_data *d)
{
	struct vgpio *vg = vgpio_from_irqd(d);
	irq_hw_number_t line = irqd_to_hwirq(d);
	unsigned int bank = vgpio_bank(line);
	struct vgpio_bank_state *st = &vg->banks[bank];
	u32 bit = vgpio_bit(line);
	unsigned long flags;
	bool ring, kick;

	gpiochip_enable_irq(&vg->gc, line);

	raw_spin_lock_irqsave(&vg->lock, flags);
	/* irq_en first: a change the host applies after our ack must see it. */
	st->enabled |= bit;
	atomic_set_release(vgpio_bank_word(vg, bank, VGPIO_BANK_IRQ_EN), st->enabled);
	ring = (st->inflight & bit) && vgpio_ack_locked(vg, bank, bit);
	st->inflight &= ~bit;
	if (vgpio_level_holds(vg, bank, bit))
		st->soft_pend |= bit;
	/* A line that went pending while it was masked is dispatched now. */
	kick = (st->soft_pend & bit) || (vgpio_pend(vg, bank) & bit);
	raw_spin_unlock_irqrestore(&vg->lock, flags);

	if (ring)
		vgpio_notify_host(vg);
	if (kick)
		irq_work_queue(&vg->dispatch_work);
}

/* enable/disable (not the flow handler's transient masking) are reported to the host. */
static void vgpio_irq_enable(struct irq_data *d)
{
	vgpio_irq_unmask(d);
	vgpio_post_config(vgpio_from_irqd(d), irqd_to_hwirq(d));
}

static void vgpio_irq_disable(struct irq_data *d)
{
	vgpio_irq_mask(d);
	vgpio_post_config(vgpio_from_irqd(d), irqd_to_hwirq(d));
}

/* Drops the guest's own interrupt state of a line. */
static void vgpio_forget(struct vgpio *vg, unsigned int line)
{
	struct vgpio_bank_state *st = &vg->banks[vgpio_bank(line)];
	u32 bit = vgpio_bit(line);

	lockdep_assert_held(&vg->lock);

	st->soft_pend &= ~bit;
	st->soft_seen &= ~bit;
	st->inflight &= ~bit;
}

static unsigned int vgpio_irq_startup(struct irq_data *d)
{
	struct vgpio *vg = vgpio_from_irqd(d);
	irq_hw_number_t line = irqd_to_hwirq(d);
	unsigned long flags;

	raw_spin_lock_irqsave(&vg->lock, flags);
	vgpio_arm(vg, line, irqd_get_trigger_type(d));
	vgpio_forget(vg, line);
	raw_spin_unlock_irqrestore(&vg->lock, flags);
	/* Whatever the host raised before anyone listened is not an event. */
	vgpio_release_pend(vg, line);
	vgpio_irq_enable(d);
	return 0;
}

static void vgpio_irq_shutdown(struct irq_data *d)
{
	struct vgpio *vg = vgpio_from_irqd(d);
	irq_hw_number_t line = irqd_to_hwirq(d);
	unsigned long flags;

	vgpio_irq_mask(d);
	raw_spin_lock_irqsave(&vg->lock, flags);
	vgpio_arm(vg, line, IRQ_TYPE_NONE);
	vgpio_forget(vg, line);
	raw_spin_unlock_irqrestore(&vg->lock, flags);
	/* Never leave the host waiting behind a latch nobody will clear. */
	vgpio_release_pend(vg, line);
	vgpio_post_config(vg, line);
}

static int vgpio_irq_set_type(struct irq_data *d, unsigned int type)
{
	struct vgpio *vg = vgpio_from_irqd(d);
	irq_hw_number_t line = irqd_to_hwirq(d);
	unsigned long flags;

	switch (type) {
	case IRQ_TYPE_EDGE_RISING:
	case IRQ_TYPE_EDGE_FALLING:
	case IRQ_TYPE_EDGE_BOTH:
	case IRQ_TYPE_LEVEL_HIGH:
	case IRQ_TYPE_LEVEL_LOW:
		break;
	default:
		return -EINVAL;
	}

	raw_spin_lock_irqsave(&vg->lock, flags);
	vgpio_arm(vg, line, type);
	raw_spin_unlock_irqrestore(&vg->lock, flags);
	/* The level flow for every type: see the comment at the top. */
	irq_set_handler_locked(d, handle_level_irq);
	vgpio_post_config(vg, line);
	return 0;
}

static void vgpio_irq_print_chip(struct irq_data *d, struct seq_file *p)
{
	seq_puts(p, dev_name(vgpio_from_irqd(d)->gc.parent));
}

static const struct irq_chip vgpio_irq_chip = {
	.irq_startup = vgpio_irq_startup,
	.irq_shutdown = vgpio_irq_shutdown,
	.irq_enable = vgpio_irq_enable,
	.irq_disable = vgpio_irq_disable,
	.irq_mask = vgpio_irq_mask,
	.irq_unmask = vgpio_irq_unmask,
	.irq_set_type = vgpio_irq_set_type,
	.irq_print_chip = vgpio_irq_print_chip,
	.flags = IRQCHIP_IMMUTABLE,
	GPIOCHIP_IRQ_RESOURCE_HELPERS,
};

/*
 * Takes the pending lines and the soft_pend bits of unmasked lines and
 * dispatches them, in both modes. Pending lines without an armed interrupt,
 * including bits past ngpio, are garbage: acknowledged, counted and
 * reported at a limited rate. Armed but masked lines stay pending for
 * unmask. One pass only: a host that keeps raising lines rings again, and
 * the next interrupt handles them, so this never loops in hard-irq context.
 *
 * What is pending is read under vg->lock, with what is in flight: a CPU
 * that read it before another CPU's unmask acknowledged the line, and took
 * it after, would dispatch one host change twice.
 */
static void vgpio_dispatch(struct vgpio *vg)
{
	struct irq_domain *domain = vg->gc.irq.domain;
	unsigned long flags;
	bool notify = false;
	unsigned int bank;

	for (bank = 0; bank < vg->nbanks; bank++) {
		struct vgpio_bank_state *st = &vg->banks[bank];
		u32 pend, bad, armed, take, dup;
		unsigned long bits;
		unsigned int i;

		raw_spin_lock_irqsave(&vg->lock, flags);
		pend = vgpio_pend(vg, bank);
		armed = st->rise | st->fall | st->high | st->low;
		bad = pend & ~armed;
		take = pend & armed & st->enabled & ~st->inflight;
		dup = take & st->soft_seen & ~(vgpio_read_in(vg, bank) ^ st->soft_level);
		st->soft_seen &= ~take;
		take &= ~dup;
		st->inflight |= take;
		take |= st->soft_pend & st->enabled;
		st->soft_pend &= ~take;
		if (bad)
			vg->spurious += hweight32(bad);
		notify |= vgpio_ack_locked(vg, bank, bad | dup);
		raw_spin_unlock_irqrestore(&vg->lock, flags);

		if (bad)
			dev_warn_ratelimited(&vg->pdev->dev,
					     "bank %u: ignoring raised interrupts %#x of lines without an armed interrupt\n",
					     bank, bad);

		bits = take;
		for_each_set_bit(i, &bits, VGPIO_BANK_LINES) {
			unsigned int line = bank * VGPIO_BANK_LINES + i;

			generic_handle_domain_irq(domain, line);
			raw_spin_lock_irqsave(&vg->lock, flags);
			vgpio_ring_post(vg, line, VGPIO_EV_INPUT_EDGE,
					!!(vgpio_read_in(vg, bank) & BIT(i)));
			raw_spin_unlock_irqrestore(&vg->lock, flags);
			notify = true;
		}
	}
	if (notify)
		vgpio_notify_host(vg);
}

irqreturn_t vgpio_doorbell_isr(int irq, void *data)
{
	vgpio_dispatch(data);
	return IRQ_HANDLED;
}

static void vgpio_dispatch_work(struct irq_work *work)
{
	vgpio_dispatch(container_of(work, struct vgpio, dispatch_work));
}

/*
 * Polling mode: sampled edges are changes of `in` between two samples (two
 * changes within one interval cancel out, unless the host raises interrupts
 * and queues, as in doorbell mode). Edges latch even while the line is
 * masked; a level only counts while the line is unmasked (unmasking
 * re-checks it anyway). `in` is read before irq_raise: see the top comment.
 */
static void vgpio_poll(struct work_struct *work)
{
	struct vgpio *vg = container_of(to_delayed_work(work), struct vgpio, poll_work);
	bool kick = false;
	unsigned long flags;
	unsigned int bank;

	for (bank = 0; bank < vg->nbanks; bank++) {
		struct vgpio_bank_state *st = &vg->banks[bank];
		u32 in = vgpio_read_in(vg, bank);
		u32 pend, changed, edges;

		raw_spin_lock_irqsave(&vg->lock, flags);
		pend = vgpio_pend(vg, bank);
		changed = in ^ st->last_in;
		st->last_in = in;
		/* A change the host already raised is the host's to deliver. */
		edges = ((changed & in & st->rise) | (changed & ~in & st->fall)) & ~pend;
		st->soft_seen = (st->soft_seen & ~changed) | edges;
		st->soft_level = (st->soft_level & ~edges) | (in & edges);
		st->soft_pend |= edges;
		st->soft_pend |= ((in & st->high) | (~in & st->low)) & st->enabled;
		kick |= (st->soft_pend & st->enabled) || (pend & ~st->inflight);
		raw_spin_unlock_irqrestore(&vg->lock, flags);
	}
	if (kick)
		irq_work_queue(&vg->dispatch_work);
	schedule_delayed_work(&vg->poll_work, vg->poll_jiffies);
}

void vgpio_irq_dbg_show(struct seq_file *s, struct vgpio *vg, unsigned int line)
{
	struct vgpio_bank_state *st = &vg->banks[vgpio_bank(line)];
	u32 bit = vgpio_bit(line);
	unsigned long flags;
	const char *trigger;
	u32 pend, inflight;
	u8 cfg;

	raw_spin_lock_irqsave(&vg->lock, flags);
	cfg = vgpio_irq_config(vg, line);
	pend = vgpio_pend(vg, vgpio_bank(line));
	inflight = st->inflight;
	raw_spin_unlock_irqrestore(&vg->lock, flags);

	switch (cfg & ~VGPIO_IRQ_ENABLED) {
	case 0:
		trigger = "none";
		break;
	case VGPIO_IRQ_RISE:
		trigger = "rising";
		break;
	case VGPIO_IRQ_FALL:
		trigger = "falling";
		break;
	case VGPIO_IRQ_RISE | VGPIO_IRQ_FALL:
		trigger = "both";
		break;
	case VGPIO_IRQ_HIGH:
		trigger = "high";
		break;
	case VGPIO_IRQ_LOW:
		trigger = "low";
		break;
	default:
		trigger = "mixed";
		break;
	}
	seq_printf(s, " irq=%s%s%s%s", trigger,
		   !(cfg & ~VGPIO_IRQ_ENABLED) ? "" :
		   (cfg & VGPIO_IRQ_ENABLED) ? ",unmasked" : ",masked",
		   (pend & bit) ? ",pending" : "",
		   (inflight & bit) ? ",in-flight" : "");
}

void vgpio_irq_init(struct vgpio *vg)
{
	struct gpio_irq_chip *girq = &vg->gc.irq;

	gpio_irq_chip_set_chip(girq, &vgpio_irq_chip);
	girq->handler = handle_bad_irq;
	girq->default_type = IRQ_TYPE_NONE;
	/* Hard-irq context even on PREEMPT_RT: it calls generic_handle_domain_irq(). */
	vg->dispatch_work = IRQ_WORK_INIT_HARD(vgpio_dispatch_work);
	INIT_DELAYED_WORK(&vg->poll_work, vgpio_poll);
}

void vgpio_poll_start(struct vgpio *vg)
{
	unsigned int bank;

	for (bank = 0; bank < vg->nbanks; bank++)
		vg->banks[bank].last_in = vgpio_read_in(vg, bank);
	schedule_delayed_work(&vg->poll_work, vg->poll_jiffies);
}

/* Stops every source of dispatches; the chip may be removed afterwards. */
void vgpio_irq_stop(struct vgpio *vg)
{
	cancel_delayed_work_sync(&vg->poll_work);
	irq_work_sync(&vg->dispatch_work);
}
