import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { peersOfUser } from '../../src/db/peers.js';
import { findUser } from '../../src/db/users.js';
import { ADMIN_A, createHarness, type Harness } from '../support/harness.js';
import type { From } from '../support/recorder.js';

const USER: From = { id: 6001, first_name: 'Nina', language_code: 'en' };

describe('interrupted work and errors', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness({ captcha: false });
  });
  afterEach(() => h.close());

  it('a config Telegram refused: the admins are told, and /config sends it again', async () => {
    await h.send(USER, '/start');
    h.rec.failNext('sendDocument', { error_code: 400, description: 'Bad Request: wrong file identifier/HTTP URL specified' });
    await h.press(ADMIN_A, `apr:${USER.id}`);
    expect((await peersOfUser(h.db, USER.id))[0]?.delivered_at).toBeNull();
    expect(h.rec.last('sendMessage', ADMIN_A.id)?.payload.text).toContain('could not be delivered');
    await h.send(USER, '/config');
    expect(h.rec.find('sendDocument', USER.id).at(-1)?.files.document).toBeDefined();
    expect((await peersOfUser(h.db, USER.id))[0]?.delivered_at).not.toBeNull();
  });

  it('/status and /config before approval explain the state instead of sending anything', async () => {
    await h.send(USER, '/status');
    expect(h.rec.last('sendMessage', USER.id)?.payload.text).toContain('/start');
    await h.send(USER, '/config');
    expect(h.rec.last('sendMessage', USER.id)?.payload.text).toContain('/start');
    await h.send(USER, '/start');
    await h.send(USER, '/config');
    expect(h.rec.last('sendMessage', USER.id)?.payload.text).toContain('waiting');
    expect(h.rec.find('sendDocument', USER.id)).toHaveLength(0);
  });

  it('an error inside a handler is logged and the user gets an apology, not silence', async () => {
    await h.send(USER, '/start');
    await h.press(ADMIN_A, `apr:${USER.id}`);
    // The reply to /status is refused: the handler fails half way.
    h.rec.failNext('sendMessage', { error_code: 400, description: 'Bad Request: MESSAGE_ID_INVALID' });
    await h.send(USER, '/status');
    expect(h.rec.last('sendMessage', USER.id)?.payload.text).toContain('Something went wrong');
    expect(h.logs.some((l) => l.msg === 'update handling failed')).toBe(true);
    expect((await findUser(h.db, USER.id))?.status).toBe('active');
  });

  it('no log line carries a private or preshared key', async () => {
    await h.send(USER, '/start');
    await h.press(ADMIN_A, `apr:${USER.id}`);
    const [peer] = await peersOfUser(h.db, USER.id);
    const all = JSON.stringify(h.logs);
    expect(all).not.toContain(peer!.private_key);
    expect(all).not.toContain(peer!.preshared_key);
  });
});
