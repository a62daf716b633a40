// SPDX-License-Identifier: GPL-2.0-only
/*
 * Test-only consumer of one GPIO's level-triggered interrupt (the GPIO
 * uAPI only offers edges). Every time the interrupt fires it counts and
 * disables the interrupt; writing to the `rearm` parameter enables it
 * again, so a test can check that a level interrupt re-fires on unmask
 * exactly while the level holds.
 *
 *   insmod vgpio_levelirq.ko gpio=<global number> trigger=high|low
 *   cat /sys/module/vgpio_levelirq/parameters/fired
 *   echo 1 > /sys/module/vgpio_levelirq/parameters/rearm
 */
#include <linux/gpio/consumer.h>
#include <linux/interrupt.h>
#include <linux/module.h>
#include <linux/string.h>

static unsigned int gpio;
module_param(gpio, uint, 0444);
MODULE_PARM_DESC(gpio, "global GPIO number of the line");

static char *trigger = "high";
module_param(trigger, charp, 0444);
MODULE_PARM_DESC(trigger, "high or low");

static int fired;
module_param(fired, int, 0444);
MODULE_PARM_DESC(fired, "times the interrupt fired");

static int irq = -1;
static bool armed;

static irqreturn_t levelirq_handler(int irq, void *data)
{
	WRITE_ONCE(fired, READ_ONCE(fired) + 1);
	armed = false;
	disable_irq_nosync(irq);
	return IRQ_HANDLED;
}

static int levelirq_rearm(const char *val, const struct kernel_param *kp)
{
	if (irq < 0)
		return -ENODEV;
	if (!armed) {
		armed = true;
		enable_irq(irq);
	}
	return 0;
}

static const struct kernel_param_ops levelirq_rearm_ops = {
	.set = levelirq_rearm,
};
module_param_cb(rearm, &levelirq_rearm_ops, NULL, 0200);
MODULE_PARM_DESC(rearm, "write anything: enable the interrupt again");

static int __init levelirq_init(void)
{
	unsigned long flags;
	struct gpio_desc *desc;
	int ret;

	if (!strcmp(trigger, "high"))
		flags = IRQF_TRIGGER_HIGH;
	else if (!strcmp(trigger, "low"))
		flags = IRQF_TRIGGER_LOW;
	else
		return -EINVAL;

	desc = gpio_to_desc(gpio);
	if (!desc)
		return -ENODEV;
	ret = gpiod_to_irq(desc);
	if (ret < 0)
		return ret;
	irq = ret;
	armed = true;
	ret = request_irq(irq, levelirq_handler, flags, "vgpio-levelirq", NULL);
	if (ret)
		irq = -1;
	return ret;
}

static void __exit levelirq_exit(void)
{
	free_irq(irq, NULL);
}

module_init(levelirq_init);
module_exit(levelirq_exit);
MODULE_DESCRIPTION("vgpio tests: counts a level-triggered GPIO interrupt");
MODULE_LICENSE("GPL");
