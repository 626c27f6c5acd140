import { describe, expect, it } from 'vitest';
import { findUser } from '../../src/db/users.js';
import { BotApiStandIn } from '../support/bot-api.js';
import { ADMIN_A, createHarness } from '../support/harness.js';
import type { From } from '../support/recorder.js';

// A refused Bot API call is logged as what failed (method, code, description), never with what it
// carried: the config's keys, an invite link. Over real HTTP, so the errors are grammY's own.

const USER: From = { id: 4401, first_name: 'Vera', language_code: 'en' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  for (const deadline = Date.now() + ms; !(await check()); await sleep(20)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
}

describe('refused Bot API calls in the log', () => {
  it('the key message, the config file and the invite edit refused: the log names method and description, and holds no key or link', async () => {
    const api = new BotApiStandIn({ token: '424242:http-test' });
    await api.listen();
    const h = await createHarness({ captcha: false, apiRoot: api.apiRoot });
    const polling = h.poll();
    try {
      api.knowUser(ADMIN_A);
      api.sendText(USER, '/start');
      await until('the request', async () => (await findUser(h.db, USER.id))?.status === 'pending');
      await h.drain();
      const request = await api.waitForMessage(ADMIN_A.id, (m) => m.message.reply_markup !== undefined);

      api.failNext('sendMessage', { error_code: 400, description: 'Bad Request: message text is empty' }, 1, (p) => String(p.text).includes('vpn://'));
      api.failNext('sendDocument', { error_code: 400, description: 'Bad Request: file must be non-empty' });
      api.clickButton(ADMIN_A, request, /Approve/);
      await until('the approval', async () => (await findUser(h.db, USER.id))?.status === 'active');
      await h.drain();
      await api.waitFor((c) => c.method === 'sendMessage' && c.ok === false);

      // The config again, delivered this time: the keys the refused calls carried.
      const mark = api.mark();
      api.sendText(USER, '/config');
      await api.waitForMessage(USER.id, () => true, 10_000, mark);
      await h.drain();
      const file = await api.waitFor((c) => c.method === 'sendDocument' && c.ok === true, 10_000, mark);
      const conf = Object.values(file.files)[0]!.data.toString();
      const secrets = [/^PrivateKey = (.+)$/m, /^PresharedKey = (.+)$/m].map((re) => re.exec(conf)![1]!);
      const key = await api.waitForMessage(USER.id, (m) => /vpn:\/\//.test(m.message.text ?? ''), 10_000, mark);
      secrets.push(/vpn:\/\/\S+/.exec(key.message.text!)![0]);

      api.failNext('editMessageText', { error_code: 400, description: 'Bad Request: MESSAGE_ID_INVALID' }, 1, (p) => String(p.text).includes('?start=inv_'));
      api.sendText(ADMIN_A, '/invite');
      const uses = await api.waitForMessage(ADMIN_A.id, (m) => /1 person/.test(JSON.stringify(m.message.reply_markup ?? '')));
      api.clickButton(ADMIN_A, uses.message, /1 person/);
      await api.waitFor((c) => c.method === 'editMessageText' && /How long/.test(String(c.params.text)), 10_000, mark);
      api.clickButton(ADMIN_A, uses.message, /1 day/); // the same message, edited
      await api.waitFor((c) => c.method === 'editMessageText' && c.ok === false, 10_000, mark);
      await until('the refused edit in the log', () => h.logs.some((l) => l.err?.method === 'editMessageText'));

      const text = JSON.stringify(h.logs);
      for (const s of secrets) expect(text).not.toContain(s);
      expect(text).not.toContain('start=inv_');
      expect(text).not.toContain('unable to serialize');
      const refused = h.logs.filter((l) => l.err?.error_code === 400).map((l) => [l.err.method, l.err.description]);
      expect(refused).toEqual(
        expect.arrayContaining([
          ['sendDocument', 'Bad Request: file must be non-empty'],
          ['sendMessage', 'Bad Request: message text is empty'],
          ['editMessageText', 'Bad Request: MESSAGE_ID_INVALID'],
        ]),
      );
    } finally {
      await polling.stop();
      await h.close();
      await api.close();
    }
  }, 30_000);
});
