import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Bot, GrammyError, InputFile, InlineKeyboard, webhookCallback } from 'grammy';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BotApiStandIn, buttonsOf, type UserInput } from '../support/bot-api.js';
import { StandInClient } from '../support/bot-api-client.js';
import { parseTelegramHtml } from '../support/telegram-html.js';

const TOKEN = '123456:TEST-token_abc';
const alice: UserInput = { id: 1001, first_name: 'Alice', username: 'alice', language_code: 'en' };
const bob: UserInput = { id: 1002, first_name: 'Bob' };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sleepUntil = (t: number) => sleep(Math.max(0, t - Date.now()));

/** The GrammyError a call rejected with (fails the test if it resolved). */
async function apiError(call: Promise<unknown>): Promise<GrammyError> {
  const err = await call.then(
    (r) => new Error(`expected the call to fail, it answered ${JSON.stringify(r)}`),
    (e: unknown) => e,
  );
  if (!(err instanceof GrammyError)) throw err;
  return err;
}

// A 1x1 PNG.
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

describe('BotApiStandIn with a real grammY Bot', () => {
  let api: BotApiStandIn;
  let bot: Bot;

  beforeEach(async () => {
    // These tests are about everything but pacing: no flood limits; alice started the bot before.
    api = new BotApiStandIn({ token: TOKEN, rateLimit: false });
    api.knowUser(alice);
    await api.listen();
    bot = new Bot(TOKEN, { client: { apiRoot: api.apiRoot } });
  });
  afterEach(async () => {
    await api.close();
  });

  it('answers getMe, sendMessage, sendDocument, sendPhoto and records files', async () => {
    const me = await bot.api.getMe();
    expect(me).toMatchObject({ id: 123456, is_bot: true, username: 'test_standin_bot' });

    const m1 = await bot.api.sendMessage(alice.id, '<b>Hello</b> &amp; welcome', {
      parse_mode: 'HTML',
      reply_markup: new InlineKeyboard().text('OK', 'ok:1'),
    });
    expect(m1.message_id).toBe(1);
    expect(m1.chat).toMatchObject({ id: alice.id, type: 'private' });
    expect(m1.text).toBe('Hello & welcome');
    expect(m1.entities).toEqual([{ type: 'bold', offset: 0, length: 5 }]);
    expect(m1.reply_markup?.inline_keyboard[0]?.[0]).toMatchObject({ text: 'OK', callback_data: 'ok:1' });

    const conf = Buffer.from('[Interface]\nPrivateKey = xyz\n\x00\xff binary tail');
    const m2 = await bot.api.sendDocument(alice.id, new InputFile(conf, 'x.conf'), { caption: 'your <i>config</i>', parse_mode: 'HTML' });
    expect(m2.message_id).toBe(2);
    expect(m2.document).toMatchObject({ file_name: 'x.conf', file_size: conf.length });
    expect(m2.caption).toBe('your config');

    const m3 = await bot.api.sendPhoto(alice.id, new InputFile(PNG, 'qr.png'));
    expect(m3.photo?.[0]).toMatchObject({ width: 1, height: 1, file_size: PNG.length });

    const docCall = api.calls.find((c) => c.method === 'sendDocument');
    expect(docCall?.files.document?.name).toBe('x.conf');
    expect(docCall?.files.document?.data.equals(conf)).toBe(true);
    expect(docCall?.params.chat_id).toBe(alice.id);
    expect(docCall?.params.caption).toBe('your <i>config</i>');

    const sent = api.messagesTo(alice.id);
    expect(sent.map((s) => s.method)).toEqual(['sendMessage', 'sendDocument', 'sendPhoto']);
    expect(sent[2]?.files.photo?.data.equals(PNG)).toBe(true);
    expect(buttonsOf(sent[0]!).map((b) => b.callback_data)).toEqual(['ok:1']);

    // Re-sending by file_id works and reuses the file.
    const m4 = await bot.api.sendDocument(alice.id, m2.document!.file_id);
    expect(m4.document?.file_id).toBe(m2.document?.file_id);
  });

  it('edits, and rejects an identical edit like Telegram', async () => {
    const m = await bot.api.sendMessage(alice.id, 'one', { reply_markup: new InlineKeyboard().text('A', 'a') });
    const edited = await bot.api.editMessageText(alice.id, m.message_id, 'two', {
      reply_markup: new InlineKeyboard().text('A', 'a'),
    });
    expect(edited).toMatchObject({ text: 'two', edit_date: expect.any(Number) });
    const again = bot.api.editMessageText(alice.id, m.message_id, 'two', {
      reply_markup: new InlineKeyboard().text('A', 'a'),
    });
    await expect(again).rejects.toThrow(/message is not modified/);
    await expect(again).rejects.toBeInstanceOf(GrammyError);
    // Omitting the markup removes the keyboard, which is a modification.
    await expect(bot.api.editMessageText(alice.id, m.message_id, 'two')).resolves.toMatchObject({ text: 'two' });
    expect(api.lastMessageTo(alice.id)?.message.reply_markup).toBeUndefined();
    await expect(bot.api.editMessageText(alice.id, 999, 'x')).rejects.toThrow(/message to edit not found/);
    await expect(bot.api.editMessageReplyMarkup(alice.id, m.message_id, { reply_markup: new InlineKeyboard().text('B', 'b') }))
      .resolves.toMatchObject({ message_id: m.message_id });
    expect(await bot.api.deleteMessage(alice.id, m.message_id)).toBe(true);
    await expect(bot.api.deleteMessage(alice.id, m.message_id)).rejects.toThrow(/message to delete not found/);
  });

  it('delivers pushed updates to a long poll and a bot handles them end to end', async () => {
    const polling = fetch(`${api.apiRoot}/bot${TOKEN}/getUpdates?timeout=5`).then((r) => r.json());
    await new Promise((r) => setTimeout(r, 100));
    const pushed = api.sendText(alice, '/start hello');
    const body = (await polling) as { ok: boolean; result: { update_id: number; message: { text: string; entities: unknown } }[] };
    expect(body.ok).toBe(true);
    expect(body.result).toHaveLength(1);
    expect(body.result[0]?.update_id).toBe(pushed.update_id);
    expect(body.result[0]?.message.entities).toEqual([{ type: 'bot_command', offset: 0, length: 6 }]);

    // A real polling bot: confirms via offset, replies, answers a button press.
    bot.command('start', (ctx) => ctx.reply(`hi ${ctx.match}`, { reply_markup: new InlineKeyboard().text('Go', 'go') }));
    bot.callbackQuery('go', async (ctx) => {
      await ctx.answerCallbackQuery({ text: 'gone' });
      await ctx.editMessageText('went');
    });
    const started = bot.start({ timeout: 1 });
    try {
      const reply = await api.waitForMessage(alice.id, (m) => m.message.text === 'hi hello');
      api.clickButton(alice, reply, 'Go');
      await api.waitFor((c) => c.method === 'editMessageText' && c.ok === true);
      expect(api.lastMessageTo(alice.id)?.message.text).toBe('went');
      expect(api.unansweredCallbackQueries()).toEqual([]);
    } finally {
      await bot.stop();
      await started;
    }
  });

  it('times out an empty long poll after the requested timeout and releases polls on close', async () => {
    const t0 = Date.now();
    const r = (await (await fetch(`${api.apiRoot}/bot${TOKEN}/getUpdates`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'timeout=1&offset=5',
    })).json()) as { ok: boolean; result: unknown[] };
    expect(r).toEqual({ ok: true, result: [] });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);

    const long = fetch(`${api.apiRoot}/bot${TOKEN}/getUpdates?timeout=30`).then((x) => x.json(), (e: unknown) => e);
    const concurrent = fetch(`${api.apiRoot}/bot${TOKEN}/getUpdates?timeout=30`).then((x) => x.json(), (e: unknown) => e);
    await new Promise((res) => setTimeout(res, 100));
    const t1 = Date.now();
    await api.close();
    await Promise.all([long, concurrent]);
    expect(Date.now() - t1).toBeLessThan(2000);
  });

  it('validates parse_mode HTML', async () => {
    await expect(bot.api.sendMessage(alice.id, '<script>x</script>', { parse_mode: 'HTML' })).rejects.toThrow(
      /can't parse entities: Unsupported start tag "script"/,
    );
    await expect(bot.api.sendMessage(alice.id, 'a < b', { parse_mode: 'HTML' })).rejects.toThrow(/can't parse entities/);
    await expect(bot.api.sendMessage(alice.id, 'Tom & Jerry', { parse_mode: 'HTML' })).rejects.toThrow(/can't parse entities/);
    await expect(bot.api.sendMessage(alice.id, '<b>x', { parse_mode: 'HTML' })).rejects.toThrow(/Can't find end tag/);
    await expect(bot.api.sendMessage(alice.id, '<b>a &lt; b</b>', { parse_mode: 'HTML' })).resolves.toMatchObject({
      text: 'a < b',
    });
    // Without parse_mode anything goes.
    await expect(bot.api.sendMessage(alice.id, '<script> & <')).resolves.toMatchObject({ text: '<script> & <' });
    expect(parseTelegramHtml('<pre><code class="language-ini">[I]</code></pre> <a href="https://x.y/?a=1&amp;b=2">l</a>'))
      .toEqual({
        text: '[I] l',
        entities: [
          { type: 'pre', offset: 0, length: 3, language: 'ini' },
          { type: 'text_link', offset: 4, length: 1, url: 'https://x.y/?a=1&b=2' },
        ],
      });
    expect(() => parseTelegramHtml('<b><i>x</b></i>')).toThrow(/Unmatched end tag/);
    expect(() => parseTelegramHtml('<span class="x">y</span>')).toThrow(/tg-spoiler/);
    expect(parseTelegramHtml('&#60;&#x3E;&quot;').text).toBe('<>"');
  });

  it('enforces Telegram limits', async () => {
    await expect(bot.api.sendMessage(alice.id, 'x'.repeat(4097))).rejects.toThrow(/message is too long/);
    await expect(bot.api.sendMessage(alice.id, 'x'.repeat(4096))).resolves.toBeTruthy();
    await expect(bot.api.sendPhoto(alice.id, new InputFile(PNG), { caption: 'c'.repeat(1025) })).rejects.toThrow(
      /message caption is too long/,
    );
    await expect(
      bot.api.sendMessage(alice.id, 'k', { reply_markup: new InlineKeyboard().text('x', 'd'.repeat(65)) }),
    ).rejects.toThrow(/BUTTON_DATA_INVALID/);
    // 64 bytes is fine, 64 chars of 2-byte UTF-8 is not.
    await expect(bot.api.sendMessage(alice.id, 'k', { reply_markup: new InlineKeyboard().text('x', 'd'.repeat(64)) })).resolves.toBeTruthy();
    await expect(bot.api.sendMessage(alice.id, 'k', { reply_markup: new InlineKeyboard().text('x', 'é'.repeat(33)) })).rejects.toThrow(/BUTTON_DATA_INVALID/);
  });

  it('injects faults: 429 with retry_after, 403 blocked, 500', async () => {
    api.failNext('sendMessage', { error_code: 429, description: 'Too Many Requests: retry after 7', parameters: { retry_after: 7 } });
    const err = await bot.api.sendMessage(alice.id, 'x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GrammyError);
    expect((err as GrammyError).error_code).toBe(429);
    expect((err as GrammyError).parameters.retry_after).toBe(7);
    await expect(bot.api.sendMessage(alice.id, 'x')).resolves.toBeTruthy();

    api.failNext('*', { error_code: 500, description: 'Internal Server Error' }, 2);
    await expect(bot.api.getMe()).rejects.toThrow(/500|Internal/);
    await expect(bot.api.sendMessage(alice.id, 'x')).rejects.toThrow(/Internal/);
    await expect(bot.api.getMe()).resolves.toBeTruthy();

    api.blockUser(alice.id);
    await expect(bot.api.sendMessage(alice.id, 'x')).rejects.toThrow(/Forbidden: bot was blocked by the user/);
    const failed = api.calls.at(-1);
    expect(failed).toMatchObject({ ok: false, error: { error_code: 403 } });
  });

  it('enforces a global flood limit when asked: past N messages in a sliding second, 429 with retry_after, nothing sent, a refused call not counted', async () => {
    const limited = new BotApiStandIn({ token: TOKEN, rateLimit: { perSecond: 3, perChatPerSecond: Infinity } });
    limited.knowUser(alice);
    limited.knowUser(bob);
    await limited.listen();
    try {
      const b = new Bot(TOKEN, { client: { apiRoot: limited.apiRoot } });
      const sent = await b.api.sendMessage(alice.id, '1');
      await b.api.sendMessage(alice.id, '2');
      await b.api.editMessageText(alice.id, sent.message_id, 'one');
      const t0 = Date.now();
      const err = await b.api.sendMessage(bob.id, '3').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GrammyError);
      expect((err as GrammyError).error_code).toBe(429);
      expect((err as GrammyError).description).toBe('Too Many Requests: retry after 1');
      expect((err as GrammyError).parameters.retry_after).toBe(1);
      expect(limited.messagesTo(alice.id).map((m) => m.message.text)).toEqual(['one', '2']);
      expect(limited.messagesTo(bob.id)).toEqual([]);
      // sendChatAction is not a message.
      await expect(b.api.sendChatAction(bob.id, 'typing')).resolves.toBe(true);
      await sleepUntil(t0 + 500);
      await expect(b.api.sendMessage(bob.id, '3')).rejects.toThrow(/Too Many Requests/);
      // A second after the three, all three slots are free: the refused calls took none.
      await sleepUntil(t0 + 1050);
      await expect(Promise.all([1, 2, 3].map((n) => b.api.sendMessage(bob.id, `again ${n}`)))).resolves.toHaveLength(3);
    } finally {
      await limited.close();
    }
  });

  it('answers wrong tokens and unknown methods like Telegram', async () => {
    const r1 = await fetch(`${api.apiRoot}/botWRONG/getMe`);
    expect(r1.status).toBe(401);
    expect(await r1.json()).toEqual({ ok: false, error_code: 401, description: 'Unauthorized' });
    const r2 = await fetch(`${api.apiRoot}/bot${TOKEN}/noSuchMethod`);
    expect(r2.status).toBe(404);
    expect(await r2.json()).toEqual({ ok: false, error_code: 404, description: 'Not Found: method not found' });
    const r3 = await fetch(`${api.apiRoot}/bot${TOKEN}/sendMessage?chat_id=${alice.id}&text=q`);
    expect(await r3.json()).toMatchObject({ ok: true, result: { text: 'q', chat: { id: alice.id } } });
    await expect(bot.api.answerCallbackQuery('nope')).rejects.toThrow(/query ID is invalid/);
    await expect(bot.api.setMyCommands([{ command: 'start', description: 'Start' }])).resolves.toBe(true);
    await expect(bot.api.getMyCommands()).resolves.toEqual([{ command: 'start', description: 'Start' }]);
  });

  it('delivers updates to a webhook with the secret token header', async () => {
    bot.on('message:text', (ctx) => ctx.reply(`got ${ctx.message.text}`));
    const handle = webhookCallback(bot, 'http', { secretToken: 's3cret' });
    const seen: (string | undefined)[] = [];
    const server = http.createServer((req, res) => {
      seen.push(req.headers['x-telegram-bot-api-secret-token'] as string | undefined);
      void handle(req, res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      await bot.init();
      await bot.api.setWebhook(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, { secret_token: 's3cret' });
      await expect(bot.api.getUpdates()).rejects.toThrow(/Conflict: can't use getUpdates method while webhook is active/);
      api.sendText(alice, 'via hook');
      await api.waitForMessage(alice.id, (m) => m.message.text === 'got via hook');
      expect(seen).toEqual(['s3cret']);
      await vi.waitFor(() => expect(api.webhookDeliveries).toMatchObject([{ status: 200 }]));
      await expect(bot.api.getWebhookInfo()).resolves.toMatchObject({ pending_update_count: 0 });
    } finally {
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
    }
  });

  it('waitFor rejects with the recent calls listed', async () => {
    await bot.api.sendMessage(alice.id, 'something');
    await expect(api.waitFor((c) => c.method === 'sendPhoto', 200)).rejects.toThrow(/sendMessage .*something/);
  });
});

describe('BotApiStandIn is as strict as Telegram by default', () => {
  const carol: UserInput = { id: 1003, first_name: 'Carol' };
  const opened: BotApiStandIn[] = [];
  afterEach(async () => {
    vi.restoreAllMocks();
    await Promise.all(opened.splice(0).map((a) => a.close()));
  });

  async function standIn(opts: Omit<ConstructorParameters<typeof BotApiStandIn>[0], 'token'> = {}) {
    const api = new BotApiStandIn({ token: TOKEN, ...opts });
    opened.push(api);
    await api.listen();
    return { api, bot: new Bot(TOKEN, { client: { apiRoot: api.apiRoot } }) };
  }

  it('one message a second per chat: a second one (or an edit) within the second answers 429 retry after 1, other chats are not held up, a refused call is not counted', async () => {
    const { api, bot } = await standIn();
    api.knowUser(alice);
    api.knowUser(bob);
    const first = await bot.api.sendMessage(alice.id, '1');
    const t0 = Date.now();
    const err = await apiError(bot.api.sendMessage(alice.id, '2'));
    expect(err.error_code).toBe(429);
    expect(err.description).toBe('Too Many Requests: retry after 1');
    expect(err.parameters.retry_after).toBe(1);
    expect((await apiError(bot.api.editMessageText(alice.id, first.message_id, 'one'))).error_code).toBe(429);
    await expect(bot.api.sendChatAction(alice.id, 'typing')).resolves.toBe(true);
    await expect(bot.api.sendMessage(bob.id, 'b')).resolves.toBeTruthy();
    expect(api.messagesTo(alice.id).map((m) => m.message.text)).toEqual(['1']);
    expect(api.calls.filter((c) => c.error?.error_code === 429)).toMatchObject([
      { method: 'sendMessage', error: { parameters: { retry_after: 1 } } },
      { method: 'editMessageText' },
    ]);
    await sleepUntil(t0 + 600);
    expect((await apiError(bot.api.sendMessage(alice.id, '2'))).error_code).toBe(429);
    // Had the refusal at +600 ms been counted, alice's window would still be full at +1050 ms.
    await sleepUntil(t0 + 1050);
    await expect(bot.api.sendMessage(alice.id, '2')).resolves.toBeTruthy();
    expect(api.messagesTo(alice.id).map((m) => m.message.text)).toEqual(['1', '2']);
  });

  it('30 messages a second over all chats by default', async () => {
    const { api, bot } = await standIn({ requireStartedChat: false });
    const chats = Array.from({ length: 31 }, (_, i) => 5000 + i);
    const results = await Promise.allSettled(chats.map((id) => bot.api.sendMessage(id, 'hi')));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(30);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(refused).toHaveLength(1);
    expect(refused[0]?.reason).toMatchObject({ error_code: 429, parameters: { retry_after: 1 } });
    expect(api.calls.filter((c) => c.ok)).toHaveLength(30);
  });

  it('a partial rateLimit keeps the other default; rateLimit false turns both off', async () => {
    const partial = await standIn({ rateLimit: { perSecond: 100 } });
    partial.api.knowUser(alice);
    await partial.bot.api.sendMessage(alice.id, '1');
    expect((await apiError(partial.bot.api.sendMessage(alice.id, '2'))).error_code).toBe(429);

    const free = await standIn({ rateLimit: false });
    free.api.knowUser(alice);
    await expect(Promise.all(Array.from({ length: 40 }, (_, i) => free.bot.api.sendMessage(alice.id, `m${i}`)))).resolves.toHaveLength(40);
    expect(() => new BotApiStandIn({ token: TOKEN, rateLimit: { perChatPerSecond: 0 } })).toThrow(/perChatPerSecond/);
  });

  it('per-chat bookkeeping stays small and quick over 10,000 chats: a chat whose second is over is dropped', async () => {
    const { api } = await standIn({ rateLimit: { perSecond: Infinity }, requireStartedChat: false });
    const state = api as unknown as { chatWindows: Map<unknown, unknown>; sendLog: unknown[]; sendLogHead: number };
    const send = (chatId: number) =>
      fetch(`${api.apiRoot}/bot${TOKEN}/sendMessage`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ chat_id: chatId, text: 'x' }),
      }).then((r) => r.json() as Promise<{ ok: boolean }>);
    const chats = Array.from({ length: 10_000 }, (_, i) => 100_000 + i);
    let ok = 0;
    for (let i = 0; i < chats.length; i += 200) {
      ok += (await Promise.all(chats.slice(i, i + 200).map(send))).filter((r) => r.ok).length;
    }
    expect(ok).toBe(10_000);
    await sleep(1050);
    expect(await send(7)).toMatchObject({ ok: true });
    expect(state.chatWindows.size).toBe(1);
    expect(state.sendLog.length - state.sendLogHead).toBe(1);
  }, 60_000);

  it('403 to a private chat whose user never wrote to the bot; a user who did (or knowUser) can be messaged', async () => {
    const { api, bot } = await standIn({ rateLimit: false });
    const users = Array.from({ length: 7 }, (_, i): UserInput => ({ id: 2001 + i, first_name: `User ${i}` }));
    const [viaText, viaPress, viaMessage, viaCallback, viaMember, known, blocked] = users as [UserInput, UserInput, UserInput, UserInput, UserInput, UserInput, UserInput];

    const never = await apiError(bot.api.sendMessage(carol.id, 'hello'));
    expect(never.error_code).toBe(403);
    expect(never.description).toBe("Forbidden: bot can't initiate conversation with a user");
    expect((await apiError(bot.api.sendChatAction(carol.id, 'typing'))).error_code).toBe(403);
    expect(api.messagesTo(carol.id)).toEqual([]);
    // Groups are not private chats.
    await expect(bot.api.sendMessage(-100123, 'to the group')).resolves.toBeTruthy();

    api.sendText(viaText, '/start');
    api.pressButton(viaPress, { message_id: 1, date: 0, chat: { id: viaPress.id, type: 'private' } }, 'x');
    api.pushUpdate({ message: { message_id: 1, date: 0, from: { ...viaMessage, is_bot: false }, chat: { id: viaMessage.id, type: 'private' }, text: 'hi' } });
    api.pushUpdate({ callback_query: { id: '77', from: { ...viaCallback, is_bot: false }, chat_instance: '1', data: 'x' } });
    api.pushUpdate({
      my_chat_member: {
        chat: { id: viaMember.id, type: 'private' },
        from: { ...viaMember, is_bot: false },
        date: 0,
        old_chat_member: { status: 'kicked', user: api.bot },
        new_chat_member: { status: 'member', user: api.bot },
      },
    });
    const pending = (await bot.api.getWebhookInfo()).pending_update_count;
    api.knowUser(known);
    expect((await bot.api.getWebhookInfo()).pending_update_count).toBe(pending);
    for (const u of [viaText, viaPress, viaMessage, viaCallback, viaMember, known]) {
      await expect(bot.api.sendMessage(u.id, 'hello')).resolves.toMatchObject({ chat: { id: u.id } });
      await expect(bot.api.sendChatAction(u.id, 'typing')).resolves.toBe(true);
    }
    // A blocked user stays blocked, whether or not they had written.
    api.knowUser(blocked);
    api.blockUser(blocked.id);
    api.blockUser(carol.id);
    for (const id of [blocked.id, carol.id]) {
      expect((await apiError(bot.api.sendMessage(id, 'x'))).description).toBe('Forbidden: bot was blocked by the user');
    }

    const lenient = await standIn({ rateLimit: false, requireStartedChat: false });
    await expect(lenient.bot.api.sendMessage(carol.id, 'hello')).resolves.toBeTruthy();
  });

  it('an inline button has exactly one action; a url button a non-empty url', async () => {
    const { api, bot } = await standIn({ rateLimit: false });
    api.knowUser(alice);
    const send = (buttons: Record<string, unknown>[]) =>
      bot.api.sendMessage(alice.id, 'k', { reply_markup: { inline_keyboard: [buttons] } as unknown as InlineKeyboard });
    const two = await apiError(send([{ text: 'Both', callback_data: 'a', url: 'https://example.org' }]));
    expect(two.error_code).toBe(400);
    expect(two.description).toMatch(/^Bad Request: can't parse inline keyboard button: .*callback_data and url/);
    expect((await apiError(send([{ text: 'ok', url: 'https://example.org', copy_text: { text: 'c' } }]))).description).toMatch(/^Bad Request: can't parse inline keyboard button/);
    expect((await apiError(send([{ text: 'None' }]))).description).toBe('Bad Request: text buttons are unallowed in the inline keyboard');
    expect((await apiError(send([{ text: 'Empty', url: '' }]))).description).toMatch(/^Bad Request: .*url/);
    await expect(send([{ text: 'Link', url: 'https://example.org' }, { text: 'Data', callback_data: 'd' }, { text: 'Copy', copy_text: { text: 'c' } }])).resolves.toBeTruthy();
    await expect(bot.api.sendMessage(alice.id, 'k', { reply_markup: new InlineKeyboard().url('Site', 'https://example.org').text('Go', 'go') })).resolves.toBeTruthy();
    // Edits are checked alike.
    const m = await bot.api.sendMessage(alice.id, 'edit me');
    expect((await apiError(bot.api.editMessageReplyMarkup(alice.id, m.message_id, { reply_markup: { inline_keyboard: [[{ text: 'B', callback_data: 'b', pay: true }]] } as unknown as InlineKeyboard }))).error_code).toBe(400);
  });

  it('a callback query answered too late is refused like an unknown one, and stays unanswered', async () => {
    const { api, bot } = await standIn({ rateLimit: false, callbackAnswerTimeoutMs: 300 });
    api.knowUser(alice);
    await bot.api.sendMessage(alice.id, 'k', { reply_markup: new InlineKeyboard().text('Go', 'go') });
    const m = api.lastMessageTo(alice.id)!;
    const quick = api.clickButton(alice, m, 'Go').callback_query!.id;
    const slow = api.clickButton(alice, m, 'Go').callback_query!.id;
    await expect(bot.api.answerCallbackQuery(quick)).resolves.toBe(true);
    await sleep(400);
    const late = await apiError(bot.api.answerCallbackQuery(slow, { text: 'late' }));
    expect(late.error_code).toBe(400);
    expect(late.description).toBe('Bad Request: query is too old and response timeout expired or query ID is invalid');
    expect(api.unansweredCallbackQueries()).toEqual([slow]);
    expect(api.callbackAnswer(slow)).toBeUndefined();
  });

  it('callback queries expire 15 s after the press by default', async () => {
    const { api, bot } = await standIn({ rateLimit: false });
    api.knowUser(alice);
    await bot.api.sendMessage(alice.id, 'k', { reply_markup: new InlineKeyboard().text('Go', 'go') });
    const m = api.lastMessageTo(alice.id)!;
    const t0 = Date.now();
    const inTime = api.clickButton(alice, m, 'Go').callback_query!.id;
    const tooLate = api.clickButton(alice, m, 'Go').callback_query!.id;
    const now = vi.spyOn(Date, 'now').mockReturnValue(t0 + 14_900);
    await expect(bot.api.answerCallbackQuery(inTime)).resolves.toBe(true);
    now.mockReturnValue(t0 + 15_100);
    await expect(bot.api.answerCallbackQuery(tooLate)).rejects.toThrow(/query is too old/);
    expect(api.unansweredCallbackQueries()).toEqual([tooLate]);
  });
});

describe('StandInClient (separate process, no namespace)', () => {
  let client: StandInClient | undefined;
  afterAll(async () => {
    await client?.stop();
  });

  it('spawns bot-api-process.ts, injects updates and reports calls', async () => {
    client = await StandInClient.start({ token: TOKEN });
    expect(client.port).toBeGreaterThan(0);
    const update = await client.sendText(alice, 'hello there');
    const polled = (await (await fetch(`${client.apiRoot}/bot${TOKEN}/getUpdates?timeout=2`)).json()) as {
      result: { update_id: number; message: { text: string } }[];
    };
    expect(polled.result.map((u) => u.update_id)).toEqual([update.update_id]);
    expect(polled.result[0]?.message.text).toBe('hello there');

    const bot = new Bot(TOKEN, { client: { apiRoot: client.apiRoot } });
    const conf = Buffer.from('conf bytes \x00\x01');
    await bot.api.sendDocument(alice.id, new InputFile(conf, 'peer.conf'), {
      reply_markup: new InlineKeyboard().text('Del', 'del:1'),
    });
    const call = await client.waitFor((c) => c.method === 'sendDocument');
    expect(call.files.document?.data.equals(conf)).toBe(true);
    const msg = await client.waitForMessage(alice.id, (m) => m.method === 'sendDocument');
    expect(msg.files.document?.name).toBe('peer.conf');

    const press = await client.clickButton(alice, msg, 'Del');
    expect(press.callback_query?.data).toBe('del:1');
    await client.failNext('sendMessage', { error_code: 403, description: 'Forbidden: bot was blocked by the user' });
    await expect(bot.api.sendMessage(alice.id, 'x')).rejects.toThrow(/blocked/);
    await expect(client.waitFor((c) => c.method === 'sendPhoto', 300)).rejects.toThrow(/no matching Bot API call/);

    const pid = client.pid;
    await client.stop();
    expect(pid).toBeDefined();
    expect(() => process.kill(pid!, 0)).toThrow();
  }, 30_000);

  it('is strict by default (knowUser over the control socket); STANDIN_RATE_LIMIT and STANDIN_REQUIRE_STARTED loosen it', async () => {
    const carol: UserInput = { id: 1003, first_name: 'Carol' };
    const strict = await StandInClient.start({ token: TOKEN });
    const lenient = await StandInClient.start({ token: TOKEN, rateLimit: false, requireStartedChat: false });
    const globalOnly = await StandInClient.start({ token: TOKEN, rateLimit: { perSecond: 1, perChatPerSecond: Infinity }, requireStartedChat: false });
    try {
      const bot = new Bot(TOKEN, { client: { apiRoot: strict.apiRoot } });
      expect((await apiError(bot.api.sendMessage(bob.id, 'hi'))).description).toBe("Forbidden: bot can't initiate conversation with a user");
      await strict.knowUser(bob);
      await expect(bot.api.sendMessage(bob.id, 'hi')).resolves.toBeTruthy();
      expect((await apiError(bot.api.sendMessage(bob.id, 'again'))).error_code).toBe(429);

      const free = new Bot(TOKEN, { client: { apiRoot: lenient.apiRoot } });
      await expect(Promise.all([1, 2, 3].map((n) => free.api.sendMessage(carol.id, `m${n}`)))).resolves.toHaveLength(3);

      const one = new Bot(TOKEN, { client: { apiRoot: globalOnly.apiRoot } });
      await expect(one.api.sendMessage(carol.id, 'first')).resolves.toBeTruthy();
      expect((await apiError(one.api.sendMessage(bob.id, 'second'))).error_code).toBe(429);
    } finally {
      await Promise.all([strict.stop(), lenient.stop(), globalOnly.stop()]);
    }
  }, 30_000);
});
