import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Api, Bot, GrammyError, InlineKeyboard, InputFile } from 'grammy';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { BotApiStandIn, buttonsOf, TelegramState, type UserInput } from '../support/bot-api.js';
import { StandInClient } from '../support/bot-api-client.js';
import { BOT_INFO, Recorder } from '../support/recorder.js';

const TOKEN = '123456:TEST-token_abc';
const alice: UserInput = { id: 1001, first_name: 'Alice', username: 'alice', language_code: 'en' };
const bob: UserInput = { id: 1002, first_name: 'Bob' };
const carol: UserInput = { id: 1003, first_name: 'Carol' };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sleepUntil = (t: number) => sleep(Math.max(0, t - Date.now()));
// A 1x1 PNG.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');

/** The GrammyError a call rejected with (fails the test if it resolved). */
async function apiError(call: Promise<unknown>): Promise<GrammyError> {
  const err = await call.then(
    (r) => new Error(`expected the call to fail, it answered ${JSON.stringify(r)}`),
    (e: unknown) => e,
  );
  if (!(err instanceof GrammyError)) throw err;
  return err;
}

const opened: BotApiStandIn[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(opened.splice(0).map((a) => a.close()));
});

async function standIn(opts: Omit<ConstructorParameters<typeof BotApiStandIn>[0], 'token'> = {}) {
  const server = new BotApiStandIn({ token: TOKEN, ...opts });
  opened.push(server);
  await server.listen();
  return { server, bot: new Bot(TOKEN, { client: { apiRoot: server.apiRoot } }) };
}

interface Setup {
  api: Api;
  state: TelegramState;
}

// The same rules, whichever way the bot reaches Telegram: over HTTP, or in-process through the recorder.
const setups: [string, () => Promise<Setup>][] = [
  ['HTTP stand-in', async () => {
    const { server, bot } = await standIn({ rateLimit: false });
    return { api: bot.api, state: server };
  }],
  ['in-process recorder', async () => {
    const rec = new Recorder();
    const api = new Api('4242:TEST');
    rec.install(api);
    return { api, state: rec.state };
  }],
];

describe.each(setups)('Telegram rules (%s)', (_name, setup) => {
  async function withAlice(): Promise<Setup> {
    const s = await setup();
    s.state.knowUser(alice);
    return s;
  }

  it('parse_mode HTML: unsupported tags, a bare < or &, unclosed tags are refused; entities are parsed', async () => {
    const { api } = await withAlice();
    for (const bad of ['<script>x</script>', 'a < b', 'Tom & Jerry', '<b>x']) {
      const err = await apiError(api.sendMessage(alice.id, bad, { parse_mode: 'HTML' }));
      expect(err.description).toMatch(/^Bad Request: can't parse entities: /);
    }
    const m = await api.sendMessage(alice.id, '<b>a &lt; b</b> &amp; c', { parse_mode: 'HTML' });
    expect(m.text).toBe('a < b & c');
    expect(m.entities).toEqual([{ type: 'bold', offset: 0, length: 5 }]);
    await expect(api.sendMessage(alice.id, '<script> & <')).resolves.toMatchObject({ text: '<script> & <' });
  });

  it('text ≤ 4096 and caption ≤ 1024 characters after parsing', async () => {
    const { api } = await withAlice();
    await expect(api.sendMessage(alice.id, `<b>${'x'.repeat(4096)}</b>`, { parse_mode: 'HTML' })).resolves.toBeTruthy();
    expect((await apiError(api.sendMessage(alice.id, 'x'.repeat(4097)))).description).toBe('Bad Request: message is too long');
    expect((await apiError(api.sendMessage(alice.id, '<i> </i>', { parse_mode: 'HTML' }))).description).toBe('Bad Request: message text is empty');
    await expect(api.sendDocument(alice.id, new InputFile(Buffer.from('c'), 'a.conf'), { caption: `<i>${'c'.repeat(1024)}</i>`, parse_mode: 'HTML' })).resolves.toBeTruthy();
    const long = await apiError(api.sendPhoto(alice.id, new InputFile(PNG, 'qr.png'), { caption: 'c'.repeat(1025) }));
    expect(long.description).toBe('Bad Request: message caption is too long');
    const m = await api.sendMessage(alice.id, 'short');
    expect((await apiError(api.editMessageText(alice.id, m.message_id, 'y'.repeat(4097)))).description).toBe('Bad Request: message is too long');
  });

  it('callback data of 1–64 bytes, and exactly one action per button', async () => {
    const { api } = await withAlice();
    const send = (buttons: Record<string, unknown>[]) => api.sendMessage(alice.id, 'k', { reply_markup: { inline_keyboard: [buttons] } as unknown as InlineKeyboard });
    await expect(send([{ text: 'x', callback_data: 'd'.repeat(64) }])).resolves.toBeTruthy();
    for (const data of ['d'.repeat(65), 'é'.repeat(33), '']) {
      expect((await apiError(send([{ text: 'x', callback_data: data }]))).description).toBe('Bad Request: BUTTON_DATA_INVALID');
    }
    expect((await apiError(send([{ text: 'Both', callback_data: 'a', url: 'https://example.org' }]))).description).toMatch(/exactly one action; "Both" has callback_data and url/);
    expect((await apiError(send([{ text: 'None' }]))).description).toBe('Bad Request: text buttons are unallowed in the inline keyboard');
    expect((await apiError(send([{ text: 'Empty', url: '' }]))).description).toMatch(/url must not be empty/);
    await expect(send([{ text: 'Link', url: 'https://example.org' }, { text: 'Data', callback_data: 'd' }])).resolves.toBeTruthy();
    // Edits are checked alike.
    const m = await api.sendMessage(alice.id, 'edit me');
    const edit = api.editMessageText(alice.id, m.message_id, 'edited', { reply_markup: { inline_keyboard: [[{ text: 'B', callback_data: 'b', pay: true }]] } as unknown as InlineKeyboard });
    expect((await apiError(edit)).error_code).toBe(400);
  });

  it("an edit that changes nothing is refused: 'message is not modified'; dropping the keyboard is a change", async () => {
    const { api, state } = await withAlice();
    const kb = () => new InlineKeyboard().text('A', 'a');
    const m = await api.sendMessage(alice.id, '<b>one</b>', { parse_mode: 'HTML', reply_markup: kb() });
    expect((await apiError(api.editMessageText(alice.id, m.message_id, '<b>one</b>', { parse_mode: 'HTML', reply_markup: kb() }))).description).toMatch(
      /^Bad Request: message is not modified/,
    );
    // The same visible text without the bold is a change.
    await expect(api.editMessageText(alice.id, m.message_id, 'one', { reply_markup: kb() })).resolves.toMatchObject({ text: 'one', edit_date: expect.any(Number) });
    await expect(api.editMessageText(alice.id, m.message_id, 'one')).resolves.toMatchObject({ text: 'one' });
    expect(state.messageIn(alice.id, m.message_id)?.reply_markup).toBeUndefined();
    expect((await apiError(api.editMessageText(alice.id, m.message_id, 'one'))).description).toMatch(/message is not modified/);
    expect((await apiError(api.editMessageText(alice.id, 999, 'x'))).description).toBe('Bad Request: message to edit not found');
  });

  it('403 to a private chat whose user never wrote to the bot, until they do', async () => {
    const { api, state } = await setup();
    const never = await apiError(api.sendMessage(carol.id, 'hello'));
    expect(never.error_code).toBe(403);
    expect(never.description).toBe("Forbidden: bot can't initiate conversation with a user");
    expect(state.messagesTo(carol.id)).toEqual([]);
    await expect(api.sendMessage(-100123, 'to a group')).resolves.toBeTruthy();
    state.noteUpdate({ update_id: 1, message: { message_id: 1, date: 0, chat: { id: carol.id, type: 'private', first_name: 'Carol' }, from: { ...carol, is_bot: false }, text: 'hi' } });
    await expect(api.sendMessage(carol.id, 'hello')).resolves.toMatchObject({ chat: { id: carol.id, first_name: 'Carol' } });
    state.noteUpdate({ update_id: 2, callback_query: { id: 'q', from: { ...bob, is_bot: false }, chat_instance: '1', data: 'x' } });
    await expect(api.sendMessage(bob.id, 'hello')).resolves.toBeTruthy();
  });

  it('every callback query is answered exactly once, within 15 s', async () => {
    const { api, state } = await withAlice();
    const m = await api.sendMessage(alice.id, 'k', { reply_markup: new InlineKeyboard().text('Go', 'go') });
    const press = () => {
      const q = state.callbackQuery(alice, m, 'go');
      state.noteUpdate({ update_id: 1, callback_query: q });
      return q.id;
    };
    const [once, never, late] = [press(), press(), press()];
    expect(state.unansweredCallbackQueries()).toEqual([once, never, late]);
    await expect(api.answerCallbackQuery(once)).resolves.toBe(true);
    const twice = await apiError(api.answerCallbackQuery(once));
    expect(twice.description).toBe('Bad Request: query is too old and response timeout expired or query ID is invalid');
    expect((await apiError(api.answerCallbackQuery('forged'))).error_code).toBe(400);
    const t0 = Date.now();
    vi.spyOn(Date, 'now').mockReturnValue(t0 + 15_100);
    expect((await apiError(api.answerCallbackQuery(late))).description).toMatch(/query is too old/);
    expect(state.unansweredCallbackQueries()).toEqual([never, late]);
  });

  it('only the methods the bot calls; failNext injects a fault for matching calls only', async () => {
    const { api, state } = await withAlice();
    expect((await apiError(api.deleteMessage(alice.id, 1))).description).toBe('Not Found: method not found');
    state.failNext('sendMessage', { error_code: 429, description: 'Too Many Requests: retry after 7', parameters: { retry_after: 7 } }, 2, (p) => p.text === 'x');
    await expect(api.sendMessage(alice.id, 'y')).resolves.toBeTruthy();
    for (let i = 0; i < 2; i++) expect((await apiError(api.sendMessage(alice.id, 'x'))).parameters.retry_after).toBe(7);
    await expect(api.sendMessage(alice.id, 'x')).resolves.toBeTruthy();
    await expect(api.setMyCommands([{ command: 'start', description: 'Start' }])).resolves.toBe(true);
    expect((await apiError(api.setMyCommands([{ command: 'Bad-Name', description: 'x' }]))).description).toBe('Bad Request: BOT_COMMAND_INVALID');
  });
});

describe('the recorder keeps what Telegram refused', () => {
  it('a refusal or an unanswered callback query is a problem; an injected fault and "not modified" are not', async () => {
    const rec = new Recorder();
    const api = new Api('4242:TEST');
    rec.install(api);
    rec.state.knowUser(alice);
    rec.failNext('sendMessage', { error_code: 403, description: 'Forbidden: bot was blocked by the user' });
    await expect(api.sendMessage(alice.id, 'x')).rejects.toThrow(/blocked/);
    const m = await api.sendMessage(alice.id, 'same');
    await expect(api.editMessageText(alice.id, m.message_id, 'same')).rejects.toThrow(/not modified/);
    expect(rec.problems()).toEqual([]);
    await expect(api.sendMessage(alice.id, 'a & b', { parse_mode: 'HTML' })).rejects.toThrow(/can't parse entities/);
    rec.noteUpdate({ update_id: 9, callback_query: { id: 'cq9', from: { ...alice, is_bot: false }, chat_instance: '1', data: 'x' } });
    expect(rec.problems()).toEqual([expect.stringMatching(/^sendMessage: Bad Request: can't parse entities/), 'callback query cq9 was never answered']);
    expect(rec.find('sendMessage', alice.id).map((c) => c.error ?? 'ok')).toEqual(['Forbidden: bot was blocked by the user', 'ok', expect.stringMatching(/can't parse/)]);
    expect(BOT_INFO.id).toBe(rec.state.bot.id);
  });
});

describe('flood limits over HTTP', () => {
  it('one message a second per chat: 429 retry after 1 (edits too); other chats not held up; a refused call not counted', async () => {
    const { server, bot } = await standIn();
    server.knowUser(alice);
    server.knowUser(bob);
    const first = await bot.api.sendMessage(alice.id, '1');
    const t0 = Date.now();
    const err = await apiError(bot.api.sendMessage(alice.id, '2'));
    expect([err.error_code, err.description, err.parameters.retry_after]).toEqual([429, 'Too Many Requests: retry after 1', 1]);
    expect((await apiError(bot.api.editMessageText(alice.id, first.message_id, 'one'))).error_code).toBe(429);
    await expect(bot.api.sendMessage(bob.id, 'b')).resolves.toBeTruthy();
    await sleepUntil(t0 + 600);
    expect((await apiError(bot.api.sendMessage(alice.id, '2'))).error_code).toBe(429);
    // Had the refusal at +600 ms been counted, alice's second would still be full at +1050 ms.
    await sleepUntil(t0 + 1050);
    await expect(bot.api.sendMessage(alice.id, '2')).resolves.toBeTruthy();
    expect(server.messagesTo(alice.id).map((m) => m.message.text)).toEqual(['1', '2']);
  });

  it('30 messages a second over all chats; a partial rateLimit keeps the other default; false lifts both', async () => {
    const { server, bot } = await standIn({ requireStartedChat: false });
    const results = await Promise.allSettled(Array.from({ length: 31 }, (_, i) => bot.api.sendMessage(5000 + i, 'hi')));
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(refused.map((r) => r.reason)).toMatchObject([{ error_code: 429, parameters: { retry_after: 1 } }]);
    expect(server.calls.filter((c) => c.ok)).toHaveLength(30);

    const partial = await standIn({ rateLimit: { perSecond: 100 }, requireStartedChat: false });
    await partial.bot.api.sendMessage(alice.id, '1');
    expect((await apiError(partial.bot.api.sendMessage(alice.id, '2'))).error_code).toBe(429);
    const free = await standIn({ rateLimit: false, requireStartedChat: false });
    await expect(Promise.all(Array.from({ length: 40 }, (_, i) => free.bot.api.sendMessage(alice.id, `m${i}`)))).resolves.toHaveLength(40);
    expect(() => new BotApiStandIn({ token: TOKEN, rateLimit: { perChatPerSecond: 0 } })).toThrow(/perChatPerSecond/);
  });
});

describe('BotApiStandIn transport and update source', () => {
  it('answers wrong tokens and unknown methods like Telegram; query string, JSON and multipart requests; files recorded', async () => {
    const { server, bot } = await standIn({ rateLimit: false });
    server.knowUser(alice);
    expect(await (await fetch(`${server.apiRoot}/botWRONG/getMe`)).json()).toEqual({ ok: false, error_code: 401, description: 'Unauthorized' });
    const r = await fetch(`${server.apiRoot}/bot${TOKEN}/deleteMessage`);
    expect([r.status, await r.json()]).toEqual([404, { ok: false, error_code: 404, description: 'Not Found: method not found' }]);
    expect(await bot.api.getMe()).toMatchObject({ id: 123456, is_bot: true, username: 'test_standin_bot' });
    const q = await fetch(`${server.apiRoot}/bot${TOKEN}/sendMessage?chat_id=${alice.id}&text=12`);
    expect(await q.json()).toMatchObject({ ok: true, result: { text: '12', chat: { id: alice.id } } });

    const conf = Buffer.from('[Interface]\nPrivateKey = xyz\n\x00\xff binary tail');
    const doc = await bot.api.sendDocument(alice.id, new InputFile(conf, 'x.conf'), { caption: 'your <i>config</i>', parse_mode: 'HTML', reply_markup: new InlineKeyboard().text('OK', 'ok:1') });
    expect(doc.document).toMatchObject({ file_name: 'x.conf', file_size: conf.length });
    expect(doc.caption).toBe('your config');
    const photo = await bot.api.sendPhoto(alice.id, new InputFile(PNG, 'qr.png'));
    expect(photo.photo?.[0]).toMatchObject({ file_size: PNG.length });
    const call = server.calls.find((c) => c.method === 'sendDocument')!;
    expect([call.files.document?.name, call.files.document?.data.equals(conf), call.params.chat_id]).toEqual(['x.conf', true, alice.id]);
    expect(buttonsOf(server.messagesTo(alice.id)[1]!).map((b) => b.callback_data)).toEqual(['ok:1']);
    // A file is sent again by its file_id; an unknown file_id is refused.
    await expect(bot.api.sendDocument(alice.id, doc.document!.file_id)).resolves.toMatchObject({ document: { file_id: doc.document!.file_id } });
    expect((await apiError(bot.api.sendPhoto(alice.id, 'no-such-file'))).description).toBe('Bad Request: wrong file identifier/HTTP URL specified');
    await expect(server.waitFor((c) => c.method === 'sendPhoto' && c.params.photo === 'nothing', 200)).rejects.toThrow(/sendDocument .*files=document/);
  });

  it('long polls: offset confirms, a poll times out empty, close releases waiting polls; a real bot answers a press', async () => {
    const { server, bot } = await standIn({ rateLimit: false });
    const polling = fetch(`${server.apiRoot}/bot${TOKEN}/getUpdates?timeout=5`).then((r) => r.json());
    await sleep(100);
    const pushed = server.sendText(alice, '/start hello');
    const body = (await polling) as { result: { update_id: number; message: { entities: unknown } }[] };
    expect(body.result.map((u) => u.update_id)).toEqual([pushed.update_id]);
    expect(body.result[0]?.message.entities).toEqual([{ type: 'bot_command', offset: 0, length: 6 }]);

    bot.command('start', (ctx) => ctx.reply(`hi ${ctx.match}`, { reply_markup: new InlineKeyboard().text('Go', 'go') }));
    bot.callbackQuery('go', async (ctx) => {
      await ctx.answerCallbackQuery();
      await ctx.editMessageText('went');
    });
    const started = bot.start({ timeout: 1 });
    try {
      const reply = await server.waitForMessage(alice.id, (m) => m.message.text === 'hi hello');
      expect(() => server.clickButton(alice, reply, 'Nope')).toThrow(/no callback button Nope .*"Go","go"/);
      server.clickButton(alice, reply, 'Go');
      await server.waitFor((c) => c.method === 'editMessageText' && c.ok === true);
      expect(server.lastMessageTo(alice.id)?.message.text).toBe('went');
      expect(server.unansweredCallbackQueries()).toEqual([]);
    } finally {
      await bot.stop();
      await started;
    }
    const t0 = Date.now();
    const empty = await (await fetch(`${server.apiRoot}/bot${TOKEN}/getUpdates?timeout=1&offset=${pushed.update_id + 10}`)).json();
    expect(empty).toEqual({ ok: true, result: [] });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    const long = fetch(`${server.apiRoot}/bot${TOKEN}/getUpdates?timeout=30`).then((x) => x.json());
    await sleep(100);
    const t1 = Date.now();
    await server.close();
    await expect(long).resolves.toEqual({ ok: true, result: [] });
    expect(Date.now() - t1).toBeLessThan(2000);
  });

  it('delivers updates to a webhook with the secret token header, again until it answers 2xx; no getUpdates meanwhile', async () => {
    const { server, bot } = await standIn({ rateLimit: false });
    const seen: (string | undefined)[] = [];
    const hook = http.createServer((req, res) => {
      seen.push(req.headers['x-telegram-bot-api-secret-token'] as string | undefined);
      req.resume();
      res.writeHead(seen.length === 1 ? 500 : 200).end();
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    try {
      await bot.api.setWebhook(`http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`, { secret_token: 's3cret' });
      expect((await apiError(bot.api.getUpdates())).description).toMatch(/^Conflict: can't use getUpdates method while webhook is active/);
      const u = server.sendText(alice, 'via hook');
      await vi.waitFor(() => expect(server.webhookDeliveries.map(({ update_id, status }) => ({ update_id, status }))).toEqual([{ update_id: u.update_id, status: 500 }, { update_id: u.update_id, status: 200 }]));
      expect(seen).toEqual(['s3cret', 's3cret']);
      await bot.api.deleteWebhook();
      await expect(bot.api.getUpdates({ timeout: 0 })).resolves.toEqual([]);
    } finally {
      await new Promise<void>((r) => {
        hook.close(() => r());
        hook.closeAllConnections();
      });
    }
  });
});

describe('StandInClient (separate process, no namespace)', () => {
  let client: StandInClient | undefined;
  afterAll(async () => {
    await client?.stop();
  });

  it('spawns bot-api-process.ts: strict by default, injects updates, faults and reports calls', async () => {
    client = await StandInClient.start({ token: TOKEN });
    const bot = new Bot(TOKEN, { client: { apiRoot: client.apiRoot } });
    expect((await apiError(bot.api.sendMessage(alice.id, 'hi'))).description).toBe("Forbidden: bot can't initiate conversation with a user");
    const update = await client.sendText(alice, 'hello there');
    const polled = (await (await fetch(`${client.apiRoot}/bot${TOKEN}/getUpdates?timeout=2`)).json()) as { result: { update_id: number }[] };
    expect(polled.result.map((u) => u.update_id)).toEqual([update.update_id]);

    const conf = Buffer.from('conf bytes \x00\x01');
    await bot.api.sendDocument(alice.id, new InputFile(conf, 'peer.conf'), { reply_markup: new InlineKeyboard().text('Del', 'del:1') });
    const msg = await client.waitForMessage(alice.id, (m) => m.method === 'sendDocument');
    expect(msg.files.document?.data.equals(conf)).toBe(true);
    expect((await client.clickButton(alice, msg, 'Del')).callback_query?.data).toBe('del:1');
    expect(await client.unansweredCallbackQueries()).toHaveLength(1);
    expect((await apiError(bot.api.sendMessage(alice.id, 'x'))).error_code).toBe(429);
    await client.failNext('getMe', { error_code: 500, description: 'Internal Server Error' });
    await expect(bot.api.getMe()).rejects.toThrow(/Internal Server Error/);
    await expect(client.waitFor((c) => c.method === 'sendPhoto', 300)).rejects.toThrow(/no matching Bot API call/);

    const lenient = await StandInClient.start({ token: TOKEN, rateLimit: false, requireStartedChat: false });
    try {
      const free = new Bot(TOKEN, { client: { apiRoot: lenient.apiRoot } });
      await expect(Promise.all([1, 2, 3].map((n) => free.api.sendMessage(carol.id, `m${n}`)))).resolves.toHaveLength(3);
    } finally {
      await lenient.stop();
    }
    const pid = client.pid;
    await client.stop();
    expect(() => process.kill(pid!, 0)).toThrow();
  }, 30_000);
});
