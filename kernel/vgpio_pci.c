// SPDX-License-Identifier: GPL-2.0-only
/*
 * vgpio: a gpiochip on QEMU's ivshmem PCI device.
 *
 * The host (vgpio2mqtt) fills BAR2 with a vgpio_shm.h region; this driver
 * binds only to regions carrying its magic and a version it knows, so any
 * other ivshmem user is left alone. With ivshmem-doorbell the host rings
 * the guest through MSI-X; with ivshmem-plain the driver polls.
 */
#include <linux/io.h>
#include <linux/jiffies.h>
#include <linux/minmax.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "vgpio.h"

#define VGPIO_DRV_NAME "vgpio"

static unsigned int poll_ms = 10;
module_param(poll_ms, uint, 0444);
MODULE_PARM_DESC(poll_ms,
		 "Polling mode (no doorbell): milliseconds between two samples of the input levels (1..1000, default 10)");

static const char *const vgpio_layout_errors[] = {
	[VGPIO_LAYOUT_OK] = "ok",
	[VGPIO_LAYOUT_BAD_NGPIO] = "line count out of range",
	[VGPIO_LAYOUT_BAD_RING_LEN] = "event ring length is not a power of two in range",
	[VGPIO_LAYOUT_MISALIGNED] = "misaligned table",
	[VGPIO_LAYOUT_OVERLAP] = "tables overlap",
	[VGPIO_LAYOUT_OUT_OF_BOUNDS] = "table outside the region",
};

/*
 * Copies a NUL-padded string from the host, which may not be terminated
 * and may hold anything: at most len - 1 bytes, control characters
 * replaced so a label or name never messes up a log or a tool's output.
 */
static void vgpio_copy_string(char *dst, const char *src, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len && src[i]; i++)
		dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ? '?' : src[i];
	dst[i] = '\0';
}

/* Reads and checks the header from a private snapshot; the host may change the live one. */
static int vgpio_read_header(struct vgpio *vg)
{
	struct device *dev = &vg->pdev->dev;
	struct vgpio_shm_header hdr;
	int bad;

	memcpy(&hdr, vg->shm, sizeof(hdr));
	if (hdr.magic != VGPIO_SHM_MAGIC) {
		dev_info(dev, "no vgpio region (magic %#x): leaving this ivshmem device alone\n",
			 hdr.magic);
		return -ENODEV;
	}
	if (hdr.version != VGPIO_SHM_VERSION) {
		dev_warn(dev, "vgpio protocol version %u is not supported (this driver speaks %u)\n",
			 hdr.version, VGPIO_SHM_VERSION);
		return -ENODEV;
	}

	vg->features = hdr.features;
	vg->layout.ngpio = hdr.ngpio;
	vg->layout.names_off = hdr.names_off;
	vg->layout.bank_off = hdr.bank_off;
	vg->layout.ring_off = hdr.ring_off;
	vg->layout.ring_len = hdr.ring_len;
	bad = vgpio_shm_check_layout(&vg->layout, vg->shm_size,
				     !!(hdr.features & VGPIO_FEAT_NAMES),
				     !!(hdr.features & VGPIO_FEAT_EVENT_RING));
	if (bad) {
		const char *why = bad < ARRAY_SIZE(vgpio_layout_errors) ?
				  vgpio_layout_errors[bad] : "unknown";

		dev_err(dev, "refusing a vgpio region with a bad layout: %s\n", why);
		return -EINVAL;
	}
	if (hdr.features & ~VGPIO_FEAT_KNOWN)
		dev_info(dev, "ignoring unknown feature bits %#x\n",
			 hdr.features & ~VGPIO_FEAT_KNOWN);

	vgpio_copy_string(vg->label, hdr.label, sizeof(vg->label));
	if (!vg->label[0])
		strscpy(vg->label, dev_name(dev), sizeof(vg->label));
	vg->nbanks = VGPIO_BANK_COUNT(vg->layout.ngpio);
	return 0;
}

static const char *const *vgpio_read_names(struct vgpio *vg)
{
	struct device *dev = &vg->pdev->dev;
	u32 n = vg->layout.ngpio;
	const char **names;
	char *text;
	u32 i;

	if (!(vg->features & VGPIO_FEAT_NAMES))
		return NULL;
	names = devm_kcalloc(dev, n, sizeof(*names), GFP_KERNEL);
	text = devm_kcalloc(dev, n, VGPIO_NAME_LEN, GFP_KERNEL);
	if (!names || !text)
		return ERR_PTR(-ENOMEM);
	for (i = 0; i < n; i++) {
		char *name = text + i * VGPIO_NAME_LEN;

		vgpio_copy_string(name, (const char *)vg->shm + vg->layout.names_off +
				  i * VGPIO_NAME_LEN, VGPIO_NAME_LEN);
		names[i] = name[0] ? name : NULL;	/* empty entry: no name */
	}
	return names;
}

/*
 * Adopts what the previous driver left in out/dir (outputs keep their
 * levels across a rebind, like real hardware) and starts with every
 * interrupt off: nothing is requested yet. Runs before the gpiochip is
 * added, when nothing else can touch the banks: no vg->lock needed.
 */
static void vgpio_init_banks(struct vgpio *vg)
{
	unsigned int bank;

	for (bank = 0; bank < vg->nbanks; bank++) {
		struct vgpio_bank_state *st = &vg->banks[bank];
		u32 lines = vg->layout.ngpio - bank * VGPIO_BANK_LINES;
		u32 valid = lines >= 32 ? ~0u : BIT(lines) - 1;

		st->out = (u32)atomic_read(vgpio_bank_word(vg, bank, VGPIO_BANK_OUT)) & valid;
		st->dir = (u32)atomic_read(vgpio_bank_word(vg, bank, VGPIO_BANK_DIR)) & valid;
		/* What the previous driver acknowledged stays acknowledged. */
		st->ack = (u32)atomic_read(vgpio_bank_word(vg, bank, VGPIO_BANK_IRQ_ACK));
		atomic_set(vgpio_bank_word(vg, bank, VGPIO_BANK_OUT), st->out);
		atomic_set(vgpio_bank_word(vg, bank, VGPIO_BANK_DIR), st->dir);
		atomic_set(vgpio_bank_word(vg, bank, VGPIO_BANK_IRQ_EN), 0);
		atomic_set(vgpio_bank_word(vg, bank, VGPIO_BANK_IRQ_RISE), 0);
		atomic_set(vgpio_bank_word(vg, bank, VGPIO_BANK_IRQ_FALL), 0);
		atomic_set(vgpio_bank_word(vg, bank, VGPIO_BANK_IRQ_HIGH), 0);
		atomic_set_release(vgpio_bank_word(vg, bank, VGPIO_BANK_IRQ_LOW), 0);
	}
	if (vg->features & VGPIO_FEAT_EVENT_RING)
		vg->ring_head = (u32)atomic_read(vgpio_word(vg, vg->layout.ring_off +
							    VGPIO_RING_HEAD));
}

/* guest_gen: odd while a driver is bound, moved on by every probe and remove. */
static void vgpio_bump_gen(struct vgpio *vg, bool bound)
{
	atomic_t *gen = vgpio_word(vg, VGPIO_HDR_GUEST_GEN);
	u32 next = (u32)atomic_read(gen) + 1;

	if ((next & 1) != bound)
		next++;
	atomic_set_release(gen, next);
}

static void vgpio_unbind(void *data)
{
	struct vgpio *vg = data;

	if (vg->bound) {
		vgpio_bump_gen(vg, false);
		vgpio_notify_host(vg);
	}
}

static void vgpio_stop(void *data)
{
	vgpio_irq_stop(data);
}

static int vgpio_map(struct vgpio *vg)
{
	struct pci_dev *pdev = vg->pdev;
	struct device *dev = &pdev->dev;
	resource_size_t start;

	start = pci_resource_start(pdev, VGPIO_BAR_REGS);
	if (!devm_request_mem_region(dev, start, pci_resource_len(pdev, VGPIO_BAR_REGS),
				     VGPIO_DRV_NAME))
		return -EBUSY;
	vg->regs = devm_ioremap(dev, start, pci_resource_len(pdev, VGPIO_BAR_REGS));
	if (!vg->regs)
		return -ENOMEM;

	/* BAR2 is RAM shared with the host, not device registers: map it cached. */
	start = pci_resource_start(pdev, VGPIO_BAR_SHM);
	vg->shm_size = pci_resource_len(pdev, VGPIO_BAR_SHM);
	if (vg->shm_size < VGPIO_SHM_SIZE_MIN) {
		dev_info(dev, "shared memory of %pa bytes is too small for vgpio: leaving it alone\n",
			 &vg->shm_size);
		return -ENODEV;
	}
	if (!devm_request_mem_region(dev, start, vg->shm_size, VGPIO_DRV_NAME))
		return -EBUSY;
	vg->shm = devm_memremap(dev, start, vg->shm_size, MEMREMAP_WB);
	return PTR_ERR_OR_ZERO(vg->shm);
}

static int vgpio_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct device *dev = &pdev->dev;
	const char *const *names;
	struct vgpio *vg;
	int ret;

	vg = devm_kzalloc(dev, sizeof(*vg), GFP_KERNEL);
	if (!vg)
		return -ENOMEM;
	vg->pdev = pdev;
	raw_spin_lock_init(&vg->lock);

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	ret = vgpio_map(vg);
	if (ret)
		return ret;
	ret = vgpio_read_header(vg);
	if (ret)
		return ret;

	names = vgpio_read_names(vg);
	if (IS_ERR(names))
		return PTR_ERR(names);
	vg->banks = devm_kcalloc(dev, vg->nbanks, sizeof(*vg->banks), GFP_KERNEL);
	if (!vg->banks)
		return -ENOMEM;
	vgpio_init_banks(vg);

	vg->doorbell = (vg->features & VGPIO_FEAT_DOORBELL) && pdev->msix_cap;
	vg->poll_jiffies = max(1UL, msecs_to_jiffies(clamp(poll_ms, 1U, 1000U)));
	if (vg->features & VGPIO_FEAT_DOORBELL && !vg->doorbell)
		dev_warn(dev, "the host offers a doorbell but the device has no MSI-X (ivshmem-plain?): polling instead\n");
	if (vg->doorbell) {
		/* MSI-X is only delivered with bus mastering on. */
		ret = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_MSIX);
		if (ret < 0)
			return dev_err_probe(dev, ret, "cannot enable MSI-X\n");
		pci_set_master(pdev);
	}

	/* Runs last on removal: the host sees the unbind once everything is gone. */
	ret = devm_add_action_or_reset(dev, vgpio_unbind, vg);
	if (ret)
		return ret;

	vgpio_gpio_init(vg, names);
	vgpio_irq_init(vg);
	ret = devm_gpiochip_add_data(dev, &vg->gc, vg);
	if (ret)
		return dev_err_probe(dev, ret, "cannot add the gpiochip\n");

	/* Released before the chip is removed, after the doorbell is freed. */
	ret = devm_add_action_or_reset(dev, vgpio_stop, vg);
	if (ret)
		return ret;
	if (vg->doorbell) {
		ret = devm_request_irq(dev, pci_irq_vector(pdev, 0), vgpio_doorbell_isr, 0,
				       dev_name(dev), vg);
		if (ret)
			return dev_err_probe(dev, ret, "cannot request the doorbell interrupt\n");
	} else {
		vgpio_poll_start(vg);
	}

	atomic_set(vgpio_word(vg, VGPIO_HDR_GUEST_PEER), readl(vg->regs + VGPIO_BAR0_IV_POSITION));
	vgpio_bump_gen(vg, true);
	vg->bound = true;
	vgpio_notify_host(vg);

	dev_info(dev, "%s: %u lines, %s mode, host peer %#x\n", vg->label, vg->layout.ngpio,
		 vg->doorbell ? "doorbell" : "polling",
		 atomic_read(vgpio_word(vg, VGPIO_HDR_HOST_PEER)));
	return 0;
}

static const struct pci_device_id vgpio_pci_ids[] = {
	{ PCI_DEVICE(VGPIO_PCI_VENDOR_ID, VGPIO_PCI_DEVICE_ID) },
	{ }
};
MODULE_DEVICE_TABLE(pci, vgpio_pci_ids);

static struct pci_driver vgpio_driver = {
	.name = VGPIO_DRV_NAME,
	.id_table = vgpio_pci_ids,
	.probe = vgpio_probe,
};
module_pci_driver(vgpio_driver);

MODULE_DESCRIPTION("GPIO lines on QEMU's ivshmem device, driven from the host");
MODULE_LICENSE("GPL");
