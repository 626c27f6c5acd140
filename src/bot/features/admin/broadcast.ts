import { Composer, InlineKeyboard } from 'grammy';
import type { Message } from 'grammy/types';
import { sendContent } from '../../../broadcast/broadcaster.js';
import { type BroadcastContent, createDraft, deleteDraft, deletePrompt, promptExpiry, putPrompt, startBroadcast, takePrompt } from '../../../db/broadcasts.js';
import { cb } from '../../callback-data.js';
import type { BotContext } from '../../context.js';
import { editCurrent, HTML } from '../../ui.js';
import { audienceEnv, broadcastAudienceScreen, confirmView } from './broadcast-audience.js';

// /broadcast → the admin sends the message → a preview (a copy of it) and a confirmation with
// the audience (broadcast-audience.ts) → Send → src/broadcast/broadcaster.ts delivers it and reports progress.

export const PROMPT_TTL_MS = 15 * 60_000;

export const broadcastScreen = new Composer<BotContext>();
broadcastScreen.use(broadcastAudienceScreen);

broadcastScreen.chatType('private').command('broadcast', async (ctx) => {
  if (!ctx.deps.broadcasts) return ctx.reply(ctx.tr('broadcast-unavailable'), HTML);
  // In the DB, so a restart while the admin types does not lose it.
  await putPrompt(ctx.deps.db, ctx.from.id, ctx.deps.now() + PROMPT_TTL_MS);
  const kb = new InlineKeyboard().text(ctx.tr('broadcast-btn-cancel'), cb.broadcastQuit.pack({}));
  await ctx.reply(ctx.tr('broadcast-prompt', { minutes: PROMPT_TTL_MS / 60_000 }), { ...HTML, reply_markup: kb });
});

broadcastScreen.callbackQuery(cb.broadcastQuit.filter, async (ctx) => {
  // Once the message has arrived, its preview has its own Cancel button.
  if (!(await takePrompt(ctx.deps.db, ctx.from.id))) return ctx.answerCallbackQuery({ text: ctx.tr('button-outdated') });
  await ctx.answerCallbackQuery();
  await editCurrent(ctx, ctx.tr('broadcast-cancelled'));
});

/** The message to broadcast, as Telegram gave it; null for kinds that cannot be broadcast. */
function contentOf(m: Message): BroadcastContent | null {
  if (m.text !== undefined) {
    return { kind: 'text', text: m.text, entities: m.entities?.length ? JSON.stringify(m.entities) : null, photo: null };
  }
  const largest = m.photo?.at(-1);
  if (largest) {
    const entities = m.caption_entities?.length ? JSON.stringify(m.caption_entities) : null;
    return { kind: 'photo', text: m.caption ?? null, entities, photo: largest.file_id };
  }
  return null;
}

// An admin's message while a prompt is open is the broadcast. Commands (and messages when no
// prompt is open) go on to the other features.
broadcastScreen.chatType('private').on('message', async (ctx, next) => {
  const m = ctx.message;
  if (m.entities?.[0]?.type === 'bot_command' && m.entities[0].offset === 0) return next();
  const { db, now } = ctx.deps;
  const expiresAt = await promptExpiry(db, ctx.from.id);
  if (expiresAt === undefined) return next();
  if (expiresAt <= now()) {
    await deletePrompt(db, ctx.from.id);
    return ctx.reply(ctx.tr('broadcast-expired'), HTML);
  }
  const content = contentOf(m);
  if (!content) return ctx.reply(ctx.tr('broadcast-unsupported'), HTML);
  if (!(await takePrompt(db, ctx.from.id))) return; // another message sent at the same moment took it
  const draft = await createDraft(db, ctx.from.id, content, now());
  // The preview is sent exactly as users will get it.
  await sendContent(ctx.api, ctx.chat.id, draft);
  const view = await confirmView(ctx, draft);
  await ctx.reply(view.text, { ...HTML, reply_markup: view.keyboard });
});

broadcastScreen.callbackQuery(cb.broadcastSend.filter, async (ctx) => {
  const data = cb.broadcastSend.unpack(ctx.callbackQuery.data);
  const m = ctx.callbackQuery.message;
  const broadcaster = ctx.deps.broadcasts;
  if (!data || !m) return ctx.answerCallbackQuery();
  if (!broadcaster) return ctx.answerCallbackQuery({ text: ctx.tr('broadcast-unavailable'), show_alert: true });
  // The confirmation message becomes the progress line. Conditional on 'draft': a double tap sends once.
  const total = await startBroadcast(ctx.deps.db, data.id, { chatId: m.chat.id, messageId: m.message_id }, audienceEnv(ctx));
  if (total === null) return ctx.answerCallbackQuery({ text: ctx.tr('broadcast-not-draft'), show_alert: true });
  ctx.deps.log.info({ broadcast: data.id, adminId: ctx.from.id, total }, 'broadcast started');
  await ctx.answerCallbackQuery({ text: ctx.tr('broadcast-started-short') });
  broadcaster.start(data.id);
});

broadcastScreen.callbackQuery(cb.broadcastDiscard.filter, async (ctx) => {
  const data = cb.broadcastDiscard.unpack(ctx.callbackQuery.data);
  if (!data) return ctx.answerCallbackQuery();
  if (!(await deleteDraft(ctx.deps.db, data.id))) {
    return ctx.answerCallbackQuery({ text: ctx.tr('broadcast-not-draft'), show_alert: true });
  }
  await ctx.answerCallbackQuery();
  await editCurrent(ctx, ctx.tr('broadcast-cancelled'));
});

broadcastScreen.callbackQuery(cb.broadcastStop.filter, async (ctx) => {
  const data = cb.broadcastStop.unpack(ctx.callbackQuery.data);
  const broadcaster = ctx.deps.broadcasts;
  if (!data || !broadcaster) return ctx.answerCallbackQuery();
  if (!(await broadcaster.cancel(data.id))) {
    return ctx.answerCallbackQuery({ text: ctx.tr('broadcast-not-sending'), show_alert: true });
  }
  ctx.deps.log.info({ broadcast: data.id, adminId: ctx.from.id }, 'broadcast stopped by an admin');
  await ctx.answerCallbackQuery({ text: ctx.tr('broadcast-stopping-short') });
});
