import { randomInt } from 'node:crypto';
import { Api } from 'grammy';
import { AccessService } from '../src/use-cases/access.js';
import { DeviceService } from '../src/use-cases/devices.js';
import { installApiTransformers } from '../src/bot/api.js';
import type { BotDeps } from '../src/bot/context.js';
import { DEFAULT_LOCALE, Translator } from '../src/bot/i18n.js';
import { Broadcaster } from '../src/broadcast/broadcaster.js';
import { createDraft, startBroadcast } from '../src/db/broadcasts.js';
import { GroupCommit } from '../src/db/infra/group-commit.js';
import { setBlocked } from '../src/db/users.js';
import { Fleet } from '../src/vpn/fleet.js';
import { BotApiStandIn } from '../test/support/bot-api.js';
import { ADMIN_ID, type Lab, seedUsers, silentLog, timed } from './lab.js';
import { DEFAULT_MAX_DEVICES_PER_USER } from '../src/config.js';
import { DEFAULT_PERIOD_RULES } from '../src/db/usage-periods.js';
import { broadcastCeilingMs, fmtMs, fmtRatio, nearCeiling, type Row } from './stats.js';

// 5. A broadcast to `users` active users against a stand-in that enforces Telegram's flood limit
// (429 with retry_after past `perSecond` messages in a second), wired as app.ts wires it: the
// Broadcaster on its own Api with the production call policy (throttle, auto-retry, no resend of
// a request lost on the network). Timed from start to the final report.

const TOKEN = '424243:bench-broadcast';

export interface BroadcastResult {
  users: number;
  perSecond: number;
  /** From start until the last user's message was accepted, and until the admin's report. */
  deliveredMs: number;
  ms: number;
  lost: number;
  duplicated: number;
  tooManyRequests: number;
}

export async function broadcast(lab: Lab, users: number, perSecond: number): Promise<BroadcastResult> {
  // Telegram's flood limits (`perSecond` over all chats, the default 1 a second per chat); the admin
  // and every user started the bot before.
  const api = new BotApiStandIn({ token: TOKEN, rateLimit: { perSecond } });
  api.knowUser({ id: ADMIN_ID, first_name: 'Admin' });
  for (let id = 1; id <= users; id++) api.knowUser({ id, first_name: `User ${id}` });
  await api.listen();
  const db = await lab.db('broadcast');
  try {
    await seedUsers(db, { count: users, firstId: 1 });
    const vpn = new Fleet({ db, log: silentLog, shared: { dns: [], allowedIps: [], awgProtocol: 1, local: {} }, runnerFor: () => lab.runner() }); // never started: no peers here
    const deps: BotDeps = {
      db,
      groupCommit: new GroupCommit(db),
      fleet: vpn,
      access: new AccessService(db, vpn, silentLog),
      devices: new DeviceService(db, vpn, silentLog),
      translator: new Translator(),
      log: silentLog,
      adminIds: [ADMIN_ID],
      captcha: true,
      maxPending: 500,
      maxDevicesPerUser: DEFAULT_MAX_DEVICES_PER_USER,
      periods: DEFAULT_PERIOD_RULES,
      now: Date.now,
      backup: async () => null,
      randomInt: (max) => randomInt(max),
    };
    const broadcastApi = new Api(TOKEN, { apiRoot: api.apiRoot });
    installApiTransformers(broadcastApi, { log: silentLog, retryNetworkErrors: false, onBlocked: (chatId) => setBlocked(db, chatId, Date.now()) });
    const broadcaster = new Broadcaster(broadcastApi, deps);
    const progress = await broadcastApi.sendMessage(ADMIN_ID, 'Preparing the broadcast…');
    const draft = await createDraft(db, ADMIN_ID, { kind: 'text', text: 'Maintenance tonight at 23:00 UTC', entities: null, photo: null }, Date.now());
    if ((await startBroadcast(db, draft.id, { chatId: ADMIN_ID, messageId: progress.message_id }, { now: Date.now(), defaultLocale: DEFAULT_LOCALE })) !== users) throw new Error('broadcast: wrong audience');
    const t0 = Date.now();
    const [ms] = await timed(async () => {
      broadcaster.start(draft.id);
      await broadcaster.idle();
    });
    let lost = 0;
    let duplicated = 0;
    for (let id = 1; id <= users; id++) {
      const got = api.messagesTo(id).length;
      if (got === 0) lost++;
      if (got > 1) duplicated++;
    }
    const tooManyRequests = api.calls.filter((c) => c.error?.error_code === 429).length;
    const deliveredMs = Math.max(...api.calls.filter((c) => c.ok && c.method === 'sendMessage' && c.params.chat_id !== ADMIN_ID).map((c) => c.at)) - t0;
    console.error(`  broadcast to ${users}: all delivered after ${fmtMs(deliveredMs)}, report after ${fmtMs(ms)}; ${lost} lost, ${duplicated} duplicated, ${tooManyRequests} answered 429`);
    return { users, perSecond, deliveredMs, ms, lost, duplicated, tooManyRequests };
  } finally {
    await db.destroy();
    await api.close();
  }
}

export function broadcastRows(r: BroadcastResult): Row[] {
  const ceiling = broadcastCeilingMs(r.users, r.perSecond);
  return [
    {
      measurement: '5. broadcast under a flood limit',
      case: `${r.users} users, ${r.perSecond} msg/s enforced (${r.tooManyRequests} × 429): all delivered`,
      value: fmtMs(r.deliveredMs),
      reference: `${fmtMs(ceiling)} ceiling`,
      ratio: fmtRatio(r.deliveredMs / ceiling),
      target: '≤ 1.15×',
      met: nearCeiling(r.deliveredMs, r.users, r.perSecond),
    },
    { measurement: '5. broadcast under a flood limit', case: 'until the report reached the admin', value: fmtMs(r.ms), ratio: fmtRatio(r.ms / ceiling) },
    {
      measurement: '5. each user got exactly one',
      case: `${r.users} users`,
      value: `${r.lost} lost, ${r.duplicated} duplicated`,
      target: '0 lost, 0 duplicated',
      met: r.lost === 0 && r.duplicated === 0,
    },
  ];
}
