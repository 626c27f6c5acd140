import type { Db } from '../db/index.js';
import { audit } from '../db/audit-log.js';
import { getMeta, setMeta } from '../db/meta.js';
import { enqueue, type Outgoing } from '../db/outbox.js';
import { activeDevicesOfActiveUsers } from '../db/peers.js';
import { inTransaction } from '../db/infra/transaction.js';
import { configFor, tellUser } from './notify.js';
import { generateImitation, type Imitation, type ImitationPreset, type ImitationValues } from '../vpn/imitation.js';

// The deployment's imitation packets (I1–I5): one set for every node, in the database so every
// replica renders the same configs; chosen at first start, switched by an admin, re-sent on request.

const META_KEY = 'awg_imitation';

export interface ImitationSettings {
  /** Only amneziawg with protocol 2 sends imitation packets. */
  enabled: boolean;
  /** The preset of a first start. */
  preset: ImitationPreset;
  /** AWG_I1…AWG_I5, which win over any preset; null when none is set. */
  overrides: ImitationValues | null;
  maxBytes: number;
}

/** What the database holds: the imitation, since when, and whether configs were re-sent for it. */
export interface ImitationState extends Imitation {
  since: number;
  resent: boolean;
}

export async function loadImitation(db: Db): Promise<ImitationState | null> {
  const raw = await getMeta(db, META_KEY);
  return raw ? (JSON.parse(raw) as ImitationState) : null;
}

/** The I1–I5 values client configs carry now. */
export async function currentImitationValues(db: Db): Promise<ImitationValues> {
  return (await loadImitation(db))?.values ?? {};
}

/**
 * At every start: AWG_I1…AWG_I5 when set; else what is stored, or (first start, or the overrides
 * were removed) a fresh draw of the configured preset. Null when this deployment sends none.
 */
export async function ensureImitation(db: Db, s: ImitationSettings, now: number): Promise<ImitationState | null> {
  if (!s.enabled) return null;
  return inTransaction(db, async (trx) => {
    const stored = await loadImitation(trx);
    if (stored && !s.overrides && stored.preset !== 'custom') return stored;
    const next: Imitation = s.overrides ? { preset: 'custom', values: s.overrides, detail: 'AWG_I1…AWG_I5' } : generateImitation(s.preset, s.maxBytes);
    if (stored?.preset === 'custom' && JSON.stringify(stored.values) === JSON.stringify(next.values)) return stored;
    const state = { ...next, since: now, resent: false };
    await setMeta(trx, META_KEY, JSON.stringify(state));
    return state;
  });
}

/** An admin picks another preset: freshly drawn values from now on. Null when it is that one already, or AWG_I1…AWG_I5 decide. */
export async function switchImitation(db: Db, preset: ImitationPreset, s: ImitationSettings, admin: number, now: number): Promise<ImitationState | null> {
  return inTransaction(db, async (trx) => {
    const stored = await loadImitation(trx);
    if (!s.enabled || s.overrides || stored?.preset === preset) return null;
    const state = { ...generateImitation(preset, s.maxBytes), since: now, resent: false };
    await setMeta(trx, META_KEY, JSON.stringify(state));
    await audit(trx, { actorId: admin, action: 'imitation_switch', userId: null, details: { from: stored?.preset ?? null, to: preset } }, now);
    return state;
  });
}

/** How many users a re-send reaches, and their devices. */
export async function resendAudience(db: Db): Promise<{ users: number; devices: number }> {
  const devices = await activeDevicesOfActiveUsers(db);
  return { users: new Set(devices.map((d) => d.user_id)).size, devices: devices.length };
}

/**
 * Every active user gets a short note and a fresh config of each device, at broadcast priority
 * through the outbox (paced, kept across restarts, each message sent at most once). Once per
 * switch: `since` names the switch the admin saw; null when that one was re-sent already or replaced.
 */
export async function resendConfigs(db: Db, since: number, admin: number, now: number): Promise<{ users: number; devices: number } | null> {
  return inTransaction(db, async (trx) => {
    const stored = await loadImitation(trx);
    if (!stored || stored.since !== since || stored.resent) return null;
    await setMeta(trx, META_KEY, JSON.stringify({ ...stored, resent: true }));
    const devices = await activeDevicesOfActiveUsers(trx);
    const items: Outgoing[] = [];
    let last: number | null = null;
    for (const d of devices) {
      if (d.user_id !== last) items.push({ ...tellUser(d.user_id, 'imitation-resend-note'), bulk: true });
      last = d.user_id;
      items.push(...configFor(d).map((o) => ({ ...o, bulk: true })));
    }
    await enqueue(trx, items, now);
    const users = new Set(devices.map((d) => d.user_id)).size;
    await audit(trx, { actorId: admin, action: 'imitation_resend', userId: null, details: { users, devices: devices.length } }, now);
    return { users, devices: devices.length };
  });
}
