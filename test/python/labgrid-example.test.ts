/**
 * examples/labgrid through labgrid's pytest plugin (`--lg-env`): its
 * conftest starts a bridge and builds the guest, labgrid's QEMUDriver boots
 * it under TCG, and the test presses the button and sees the guest toggle
 * its LED. One guest boot.
 */
import { pytestSuite } from './pytest-run.ts';

pytestSuite('labgrid example (QEMUDriver, TCG guest)', ['-s', '--lg-env', 'examples/labgrid/env.yaml', 'examples/labgrid']);
