import type { Outgoing } from '../db/outbox.js';
import { tellAdmins } from '../use-cases/notify.js';
import type { MonitorEvent } from './index.js';

/** A monitor incident (or its end), to every admin. */
export function monitorAlert(adminIds: readonly number[], e: MonitorEvent): Outgoing[] {
  return tellAdmins(adminIds, `monitor-${e.kind}`, {
    iface: e.node === e.iface ? e.iface : `${e.node}/${e.iface}`,
    keys: 'keys' in e ? e.keys.join('\n') : '',
    ticks: 'ticks' in e ? e.ticks : 0,
    error: 'error' in e ? e.error : '',
  });
}
