import type { Db } from '../../src/db/index.js';
import { beforeDump, recordTraffic, type TickRules } from '../../src/monitor/traffic.js';
import type { Dump } from '../../src/vpn/types.js';

/** A monitor tick's database part: the node's baselines, then the dump recorded against them. */
export async function tick(db: Db, node: string, dump: Dump, ifindex: number | null, now: number, rules?: TickRules): Promise<number> {
  return recordTraffic(db, node, dump, await beforeDump(db, node), ifindex, now, rules);
}
