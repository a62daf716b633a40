// SPDX-License-Identifier: GPL-2.0-only
/*
 * vgpio: the gpio_chip side. Inputs read the host's `in` word, outputs the
 * guest's `out` word; the guest never writes `in`. Every change of an
 * output level or a direction is posted to the event ring and rings the
 * host.
 */
#include <linux/bitmap.h>
#include <linux/gpio/driver.h>
#include <linux/seq_file.h>
#include <linux/version.h>

#include "vgpio.h"

/* Lines bank by bank: what each reads, given the guest's own dir/out. */
static u32 vgpio_levels(struct vgpio *vg, unsigned int bank)
{
	struct vgpio_bank_state *st = &vg->banks[bank];
	u32 in = vgpio_read_in(vg, bank);
	u32 dir = READ_ONCE(st->dir);

	return (in & ~dir) | (READ_ONCE(st->out) & dir);
}

/* Returns true if the host must be rung. */
static bool vgpio_update_out(struct vgpio *vg, unsigned int bank, u32 mask, u32 val)
{
	struct vgpio_bank_state *st = &vg->banks[bank];
	u32 changed = (st->out ^ val) & mask;
	unsigned long bits = changed;
	unsigned int i;

	/* The private copy and the shared word change together. */
	lockdep_assert_held(&vg->lock);

	if (!changed)
		return false;
	WRITE_ONCE(st->out, st->out ^ changed);
	atomic_set_release(vgpio_bank_word(vg, bank, VGPIO_BANK_OUT), st->out);
	for_each_set_bit(i, &bits, VGPIO_BANK_LINES)
		vgpio_ring_post(vg, bank * VGPIO_BANK_LINES + i, VGPIO_EV_OUTPUT,
				!!(st->out & BIT(i)));
	return true;
}

/* Returns true if the host must be rung. */
static bool vgpio_update_dir(struct vgpio *vg, unsigned int line, bool output)
{
	struct vgpio_bank_state *st = &vg->banks[vgpio_bank(line)];
	u32 bit = vgpio_bit(line);

	lockdep_assert_held(&vg->lock);

	if (!!(st->dir & bit) == output)
		return false;
	WRITE_ONCE(st->dir, st->dir ^ bit);
	atomic_set_release(vgpio_bank_word(vg, vgpio_bank(line), VGPIO_BANK_DIR), st->dir);
	vgpio_ring_post(vg, line, VGPIO_EV_DIRECTION, output);
	return true;
}

static int vgpio_get_direction(struct gpio_chip *gc, unsigned int offset)
{
	struct vgpio *vg = gpiochip_get_data(gc);

	return (READ_ONCE(vg->banks[vgpio_bank(offset)].dir) & vgpio_bit(offset)) ?
	       GPIO_LINE_DIRECTION_OUT : GPIO_LINE_DIRECTION_IN;
}

static int vgpio_direction_input(struct gpio_chip *gc, unsigned int offset)
{
	struct vgpio *vg = gpiochip_get_data(gc);
	unsigned long flags;
	bool notify;

	raw_spin_lock_irqsave(&vg->lock, flags);
	notify = vgpio_update_dir(vg, offset, false);
	raw_spin_unlock_irqrestore(&vg->lock, flags);
	if (notify)
		vgpio_notify_host(vg);
	return 0;
}

static int vgpio_direction_output(struct gpio_chip *gc, unsigned int offset, int value)
{
	struct vgpio *vg = gpiochip_get_data(gc);
	unsigned int bank = vgpio_bank(offset);
	u32 bit = vgpio_bit(offset);
	unsigned long flags;
	bool notify;

	/* Level first, then direction: the line never drives a stale level. */
	raw_spin_lock_irqsave(&vg->lock, flags);
	notify = vgpio_update_out(vg, bank, bit, value ? bit : 0);
	notify |= vgpio_update_dir(vg, offset, true);
	raw_spin_unlock_irqrestore(&vg->lock, flags);
	if (notify)
		vgpio_notify_host(vg);
	return 0;
}

static int vgpio_get(struct gpio_chip *gc, unsigned int offset)
{
	struct vgpio *vg = gpiochip_get_data(gc);

	return !!(vgpio_levels(vg, vgpio_bank(offset)) & vgpio_bit(offset));
}

/*
 * gpiolib hands over bitmaps of lines; a bank is a u32 with line n at bit
 * n % 32 of word n / 32, which is the layout bitmap_to_arr32() and
 * bitmap_from_arr32() convert to and from. The u32 arrays are private:
 * the shared words are still only read through vgpio_levels() and stored
 * from the bank state.
 */
static int vgpio_get_multiple(struct gpio_chip *gc, unsigned long *mask, unsigned long *bits)
{
	struct vgpio *vg = gpiochip_get_data(gc);
	u32 want[VGPIO_BANKS_MAX], levels[VGPIO_BANKS_MAX];
	DECLARE_BITMAP(map, VGPIO_NGPIO_MAX);
	unsigned int bank;

	bitmap_to_arr32(want, mask, gc->ngpio);
	for (bank = 0; bank < vg->nbanks; bank++)
		levels[bank] = want[bank] ? vgpio_levels(vg, bank) : 0;
	bitmap_from_arr32(map, levels, gc->ngpio);
	bitmap_replace(bits, bits, map, mask, gc->ngpio);
	return 0;
}

static void vgpio_set(struct gpio_chip *gc, unsigned int offset, int value)
{
	struct vgpio *vg = gpiochip_get_data(gc);
	u32 bit = vgpio_bit(offset);
	unsigned long flags;
	bool notify;

	raw_spin_lock_irqsave(&vg->lock, flags);
	notify = vgpio_update_out(vg, vgpio_bank(offset), bit, value ? bit : 0);
	raw_spin_unlock_irqrestore(&vg->lock, flags);
	if (notify)
		vgpio_notify_host(vg);
}

static void vgpio_set_multiple(struct gpio_chip *gc, unsigned long *mask, unsigned long *bits)
{
	struct vgpio *vg = gpiochip_get_data(gc);
	u32 want[VGPIO_BANKS_MAX], val[VGPIO_BANKS_MAX];
	bool notify = false;
	unsigned long flags;
	unsigned int bank;

	bitmap_to_arr32(want, mask, gc->ngpio);
	bitmap_to_arr32(val, bits, gc->ngpio);
	raw_spin_lock_irqsave(&vg->lock, flags);
	for (bank = 0; bank < vg->nbanks; bank++)
		if (want[bank])
			notify |= vgpio_update_out(vg, bank, want[bank], val[bank]);
	raw_spin_unlock_irqrestore(&vg->lock, flags);
	if (notify)
		vgpio_notify_host(vg);
}

static void vgpio_show_consumer(struct seq_file *s, struct gpio_chip *gc, unsigned int line)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
	/* 6.8 replaced gpiochip_is_requested() with a copy the caller frees. */
	char *label = gpiochip_dup_line_label(gc, line);

	if (IS_ERR_OR_NULL(label))
		return;
	seq_printf(s, " consumer=%s", label);
	kfree(label);
#else
	const char *label = gpiochip_is_requested(gc, line);

	if (label)
		seq_printf(s, " consumer=%s", label);
#endif
}

/*
 * /sys/kernel/debug/gpio: one line per GPIO with what the guest drives,
 * what the host drives and the interrupt state, read from the same words
 * the driver acts on.
 */
static void vgpio_dbg_show(struct seq_file *s, struct gpio_chip *gc)
{
	struct vgpio *vg = gpiochip_get_data(gc);
	unsigned int line;
	unsigned long flags;
	unsigned long spurious;
	u32 head, dropped;

	raw_spin_lock_irqsave(&vg->lock, flags);
	head = vg->ring_head;
	dropped = vg->ring_dropped;
	spurious = vg->spurious;
	raw_spin_unlock_irqrestore(&vg->lock, flags);

	seq_printf(s, " mode=%s host_peer=%#x ring_head=%u ring_dropped=%u spurious=%lu\n",
		   vg->doorbell ? "doorbell" : "polling",
		   atomic_read(vgpio_word(vg, VGPIO_HDR_HOST_PEER)), head, dropped, spurious);
	for (line = 0; line < gc->ngpio; line++) {
		struct vgpio_bank_state *st = &vg->banks[vgpio_bank(line)];
		u32 bit = vgpio_bit(line);
		bool out = READ_ONCE(st->dir) & bit;

		seq_printf(s, " line%-4u %-12s %-3s level=%d in=%d out=%d",
			   line, gc->names && gc->names[line] ? gc->names[line] : "-",
			   out ? "out" : "in", !!(vgpio_levels(vg, vgpio_bank(line)) & bit),
			   !!(vgpio_read_in(vg, vgpio_bank(line)) & bit),
			   !!(READ_ONCE(st->out) & bit));
		vgpio_irq_dbg_show(s, vg, line);
		vgpio_show_consumer(s, gc, line);
		seq_putc(s, '\n');
	}
}

void vgpio_gpio_init(struct vgpio *vg, const char *const *names)
{
	struct gpio_chip *gc = &vg->gc;

	gc->label = vg->label;
	gc->parent = &vg->pdev->dev;
	gc->owner = THIS_MODULE;
	gc->base = -1;
	gc->ngpio = vg->layout.ngpio;
	gc->names = names;
	gc->can_sleep = false;
	gc->get_direction = vgpio_get_direction;
	gc->direction_input = vgpio_direction_input;
	gc->direction_output = vgpio_direction_output;
	gc->get = vgpio_get;
	gc->get_multiple = vgpio_get_multiple;
	gc->set = vgpio_set;
	gc->set_multiple = vgpio_set_multiple;
	gc->dbg_show = vgpio_dbg_show;
}
