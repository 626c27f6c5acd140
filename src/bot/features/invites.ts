import { randomBytes } from 'node:crypto';
import { Composer, InlineKeyboard } from 'grammy';
import {
  createInvite,
  findInviteByCode,
  hasDraft,
  holdInvite,
  INVITE_CODE_RE,
  inviteProblem,
  listUsableInvites,
  putDraft,
  redeemHeldInvite,
  revokeInvite,
  takeDraft,
} from '../../db/invites.js';
import type { Invite, User } from '../../db/schema.js';
import { cb } from '../callback-data.js';
import type { BotContext } from '../context.js';
import { formatTime, fullName } from '../format.js';
import { tellAdmins } from '../../use-cases/notify.js';
import { editCurrent, HTML, safeEdit, userParams } from '../ui.js';
import { sendStatus } from './user.js';

// Invite links: /invite → uses → expiry → the link, shown once (only a hash is stored).
// A newcomer opening t.me/<bot>?start=inv_<code> still passes the CAPTCHA; the invite is held
// meanwhile (pending_invites) and redeemed when the request is submitted: one use is taken and
// the user is approved on behalf of the invite's creator, skipping the approval queue.

export const INVITE_PREFIX = 'inv_';
/** 0 = unlimited. */
const USES = [1, 5, 25, 0];
/** 0 = no expiry. */
const DAYS = [1, 7, 30, 0];
const DAY_MS = 86_400_000;
const PAGE_SIZE = 10;
const NOTE_MAX = 64;
/** A held invite only has to outlive the CAPTCHA (questions, retries, a cooldown); an older hold is refused like an expired invite. */
export const HOLD_TTL_MS = DAY_MS;

export const invitesFeature = new Composer<BotContext>();
const admin = invitesFeature.filter((ctx) => ctx.isAdmin);

// ---------------------------------------------------------------- creating (admins)

// `/invite some label`: the optional label is kept with the draft until the link is made.
admin.chatType('private').command('invite', async (ctx) => {
  const note = ctx.match.replace(/\s+/g, ' ').trim().slice(0, NOTE_MAX) || null;
  const nonce = randomBytes(6).toString('base64url');
  await putDraft(ctx.deps.db, ctx.from.id, nonce, note, ctx.deps.now());
  const kb = new InlineKeyboard();
  USES.forEach((uses, i) => {
    kb.text(ctx.tr(`invite-uses-${uses}`), cb.inviteUses.pack({ nonce, uses }));
    if (i % 2 === 1) kb.row();
  });
  kb.text(ctx.tr('invite-btn-cancel'), cb.inviteQuit.pack({ nonce }));
  await ctx.reply(ctx.tr('invite-ask-uses'), { ...HTML, reply_markup: kb });
});

// Same answer as /admin and /broadcast give non-admins.

admin.callbackQuery(cb.inviteUses.filter, async (ctx) => {
  const data = cb.inviteUses.unpack(ctx.callbackQuery.data);
  if (!data || !USES.includes(data.uses)) return ctx.answerCallbackQuery();
  if (!(await hasDraft(ctx.deps.db, ctx.from.id, data.nonce))) return ctx.answerCallbackQuery({ text: ctx.tr('button-outdated') });
  await ctx.answerCallbackQuery();
  const { nonce, uses } = data;
  const kb = new InlineKeyboard();
  DAYS.forEach((days, i) => {
    kb.text(ctx.tr(`invite-days-${days}`), cb.inviteCreate.pack({ nonce, uses, days }));
    if (i % 2 === 1) kb.row();
  });
  kb.text(ctx.tr('invite-btn-cancel'), cb.inviteQuit.pack({ nonce }));
  // The label is our own translated text: passed raw so it is not escaped twice.
  await editCurrent(ctx, ctx.deps.translator.tRaw(ctx.locale, 'invite-ask-expiry', { uses: ctx.tr(`invite-uses-${uses}`) }), kb);
});

admin.callbackQuery(cb.inviteCreate.filter, async (ctx) => {
  const data = cb.inviteCreate.unpack(ctx.callbackQuery.data);
  if (!data || !USES.includes(data.uses) || !DAYS.includes(data.days)) return ctx.answerCallbackQuery();
  const { db, now, log } = ctx.deps;
  // Taking the draft makes this button single-use: a double tap creates one invite.
  const draft = await takeDraft(db, ctx.from.id, data.nonce);
  if (!draft) return ctx.answerCallbackQuery({ text: ctx.tr('button-outdated') });
  const t = now();
  const { invite, code } = await createInvite(
    db,
    { createdBy: ctx.from.id, creatorName: fullName(ctx.from), maxUses: data.uses || null, expiresAt: data.days ? t + data.days * DAY_MS : null, note: draft.note },
    t,
  );
  // Never the code: logs are not a place for something that admits people.
  log.info({ adminId: ctx.from.id, invite: invite.id, maxUses: invite.max_uses, expiresAt: invite.expires_at }, 'invite created');
  await ctx.answerCallbackQuery();
  const parts = [
    ctx.tr('invite-created', {
      id: invite.id,
      uses: ctx.deps.translator.tRaw(ctx.locale, `invite-uses-${data.uses}`, {}),
      expiry: expiryText(ctx, invite),
      link: `https://t.me/${ctx.me.username}?start=${INVITE_PREFIX}${code}`,
    }),
  ];
  if (invite.note) parts.push(ctx.tr('invite-label', { note: invite.note }));
  parts.push(ctx.tr('invite-shown-once'));
  await editCurrent(ctx, parts.join('\n\n'));
});

admin.callbackQuery(cb.inviteQuit.filter, async (ctx) => {
  const data = cb.inviteQuit.unpack(ctx.callbackQuery.data);
  if (!data || !(await takeDraft(ctx.deps.db, ctx.from.id, data.nonce))) return ctx.answerCallbackQuery({ text: ctx.tr('button-outdated') });
  await ctx.answerCallbackQuery();
  await editCurrent(ctx, ctx.tr('invite-cancelled'));
});

/** Plain text (no HTML), so it can go into another message as a parameter. */
function expiryText(ctx: BotContext, invite: Invite): string {
  if (invite.expires_at === null) return ctx.deps.translator.tRaw(ctx.locale, 'invite-days-0', {});
  return ctx.deps.translator.tRaw(ctx.locale, 'invite-until', { time: formatTime(invite.expires_at, ctx.locale) });
}

// ---------------------------------------------------------------- listing and revoking (admins)

async function listView(ctx: BotContext, requested: number): Promise<{ text: string; keyboard?: InlineKeyboard }> {
  const { db, now, adminIds } = ctx.deps;
  // Clamped: a forged huge page would overflow SQLite's integer OFFSET; past the end shows the last page anyway.
  let page = Math.min(Math.max(0, requested), 100_000);
  let { rows, total } = await listUsableInvites(db, now(), adminIds, page * PAGE_SIZE, PAGE_SIZE);
  if (total === 0) return { text: ctx.tr('invites-none') };
  const pages = Math.ceil(total / PAGE_SIZE);
  if (page >= pages) {
    // A stale button past the end (invites revoked or used up meanwhile): show the last page.
    page = pages - 1;
    ({ rows, total } = await listUsableInvites(db, now(), adminIds, page * PAGE_SIZE, PAGE_SIZE));
  }
  const lines = rows.map((i) => {
    const line = ctx.tr('invites-line', { id: i.id, used: i.uses, max: i.max_uses ?? '∞', expiry: expiryText(ctx, i), admin: i.creator_name });
    return i.note ? `${line}\n${ctx.tr('invite-label', { note: i.note })}` : line;
  });
  const kb = new InlineKeyboard();
  rows.forEach((i, n) => {
    kb.text(ctx.tr('invite-btn-revoke', { id: i.id }), cb.inviteRevoke.pack({ id: i.id, page }));
    if (n % 2 === 1) kb.row();
  });
  kb.row();
  if (page > 0) kb.text('‹', cb.invitesPage.pack({ page: page - 1 }));
  if (page + 1 < pages) kb.text('›', cb.invitesPage.pack({ page: page + 1 }));
  const header = ctx.tr('invites-header', { page: page + 1, pages, total });
  return { text: [header, ...lines].join('\n\n').slice(0, 4000), keyboard: kb };
}

admin.chatType('private').command('invites', async (ctx) => {
  const { text, keyboard } = await listView(ctx, 0);
  await ctx.reply(text, { ...HTML, reply_markup: keyboard });
});

admin.callbackQuery(cb.invitesPage.filter, async (ctx) => {
  const data = cb.invitesPage.unpack(ctx.callbackQuery.data);
  await ctx.answerCallbackQuery();
  if (!data) return;
  const { text, keyboard } = await listView(ctx, data.page);
  await editCurrent(ctx, text, keyboard);
});

admin.callbackQuery(cb.inviteRevoke.filter, async (ctx) => {
  const data = cb.inviteRevoke.unpack(ctx.callbackQuery.data);
  if (!data) return ctx.answerCallbackQuery();
  const { db, now, log } = ctx.deps;
  if (await revokeInvite(db, data.id, ctx.from.id, now())) {
    log.info({ adminId: ctx.from.id, invite: data.id }, 'invite revoked');
    await ctx.answerCallbackQuery({ text: ctx.tr('invite-revoked-short') });
  } else {
    await ctx.answerCallbackQuery({ text: ctx.tr('invite-not-active'), show_alert: true });
  }
  const { text, keyboard } = await listView(ctx, data.page);
  await editCurrent(ctx, text, keyboard);
});

// ---------------------------------------------------------------- joining (newcomers; called by onboarding)

/**
 * /start's payload. A usable invite is held for this user until the request is submitted (after
 * the CAPTCHA); an unusable one is refused with a clear message, and the normal request goes on.
 * Other payloads are ignored.
 */
export async function holdStartInvite(ctx: BotContext, payload: string): Promise<void> {
  if (!payload.startsWith(INVITE_PREFIX)) return;
  const { db, now, adminIds, log } = ctx.deps;
  const userId = ctx.from!.id;
  const code = payload.slice(INVITE_PREFIX.length);
  // Malformed codes are not even looked up.
  const invite = INVITE_CODE_RE.test(code) ? await findInviteByCode(db, code) : undefined;
  const problem = invite ? inviteProblem(invite, now(), adminIds) : 'unknown';
  if (problem) {
    log.info({ userId, invite: invite?.id ?? null, problem }, 'invite refused');
    await ctx.reply(ctx.tr('invite-invalid'), HTML);
    return;
  }
  await holdInvite(db, userId, invite!.id, now());
  if (ctx.deps.captcha) await ctx.reply(ctx.tr('invite-accepted'), HTML);
}

/**
 * Called with a user who has just become pending. With a held, still usable invite: one use is
 * taken and the user is approved on behalf of the invite's creator (the same provisioning as an
 * admin's approval; the welcome, the configs and the admins' notice go through the outbox).
 * False means the user waits for an admin like any other: no invite, an unusable one (the user is
 * told), or a provisioning failure (the admins have the request and can approve once it is fixed).
 */
export async function admitWithInvite(ctx: BotContext, user: User, captchaMessage?: { chat: { id: number }; message_id: number }): Promise<boolean> {
  const { db, now, adminIds, log, access } = ctx.deps;
  const r = await redeemHeldInvite(db, user.id, now() - HOLD_TTL_MS, now(), adminIds);
  if (r.kind === 'none') return false;
  if (r.kind === 'invalid') {
    log.info({ userId: user.id, invite: r.inviteId }, 'held invite no longer usable');
    await ctx.reply(ctx.tr('invite-invalid'), HTML);
    return false;
  }
  const invite = r.invite;
  log.info({ userId: user.id, invite: invite.id, createdBy: invite.created_by }, 'joining through an invite');
  const stopTimer = ctx.deps.metrics?.provisioning.startTimer();
  const joined = tellAdmins(adminIds, 'invite-joined', { ...userParams(user), invite: invite.id, admin: invite.creator_name });
  const d = await access.approve(user.id, { id: invite.created_by, name: invite.creator_name }, { welcome: 'invite-welcome', alsoTell: joined, actorAway: true });
  if (d.kind === 'wrong-state') {
    // Decided by someone else in the meantime: just say where the user stands.
    await sendStatus(ctx, d.user);
    return true;
  }
  if (d.kind !== 'ok') return false;
  stopTimer?.();
  if (captchaMessage) await safeEdit(ctx.api, captchaMessage.chat.id, captchaMessage.message_id, ctx.tr('captcha-passed'));
  return true;
}
