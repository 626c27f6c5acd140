import type { AccessService } from './access.js';
import type { DeviceService } from './devices.js';

/** After a crash (or a replica's death): a dead replica's approvals finished or rolled back; configs never queued queued, of peers older than staleBefore. */
export async function recoverInterrupted(deps: { access: AccessService; devices: DeviceService }, staleBefore = Number.POSITIVE_INFINITY): Promise<void> {
  await deps.access.recoverInterrupted();
  await deps.devices.queueUnqueuedConfigs(staleBefore);
}
