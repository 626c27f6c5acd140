import { Composer } from 'grammy';
import { findDeviceRequest } from '../../../db/device-requests.js';
import { approveDeviceRequest, rejectDeviceRequest } from '../../../use-cases/device-requests.js';
import { cb } from '../../callback-data.js';
import type { BotContext } from '../../context.js';
import { HTML, userParams } from '../../ui.js';
import { actorOf } from './decisions.js';

/** Approve / Reject on a device request (REQUIRE_APPROVAL_PER_DEVICE=on). */
export const deviceRequestsScreen = new Composer<BotContext>();

/** The loser of a race (or a stale button): says how the request stands. */
async function answerDecided(ctx: BotContext, id: number): Promise<void> {
  const req = await findDeviceRequest(ctx.deps.db, id);
  const text = req ? ctx.tr('device-request-decided', { status: ctx.tr(`device-request-status-${req.status}`) }) : ctx.tr('device-request-not-found');
  await ctx.answerCallbackQuery({ text, show_alert: true });
}

deviceRequestsScreen.callbackQuery(cb.deviceRequestApprove.filter, async (ctx) => {
  const data = cb.deviceRequestApprove.unpack(ctx.callbackQuery.data);
  if (!data) return ctx.answerCallbackQuery();
  const r = await approveDeviceRequest(ctx.deps, data.id, actorOf(ctx));
  if (r.kind === 'decided') return answerDecided(ctx, data.id);
  const { request } = r;
  if (r.kind === 'not-created') {
    // The request keeps its buttons: the admin can raise the limit (user card) and approve again, or reject.
    const params = r.user ? userParams(r.user) : { name: String(request.user_id), username: '—', id: String(request.user_id) };
    const text =
      r.why.kind === 'limit'
        ? ctx.tr('device-request-limit', { ...params, max: r.why.max, device: request.name })
        : ctx.tr(r.why.kind === 'not-active' ? 'device-request-user-inactive' : 'device-request-failed', { ...params, device: request.name });
    await ctx.answerCallbackQuery({ text: ctx.tr('device-request-not-created'), show_alert: true });
    await ctx.api.sendMessage(ctx.from.id, text, HTML);
    return;
  }
  ctx.deps.log.info({ userId: request.user_id, requestId: request.id, peerId: r.peer?.id, ip: r.peer?.ip, adminId: ctx.from.id }, 'device request approved');
  await ctx.answerCallbackQuery({ text: ctx.tr('approved-short') });
});

deviceRequestsScreen.callbackQuery(cb.deviceRequestReject.filter, async (ctx) => {
  const data = cb.deviceRequestReject.unpack(ctx.callbackQuery.data);
  if (!data) return ctx.answerCallbackQuery();
  const r = await rejectDeviceRequest(ctx.deps, data.id, actorOf(ctx));
  if (r.kind !== 'ok') return answerDecided(ctx, data.id);
  ctx.deps.log.info({ userId: r.request.user_id, requestId: r.request.id, adminId: ctx.from.id }, 'device request rejected');
  await ctx.answerCallbackQuery({ text: ctx.tr('rejected-short') });
});
