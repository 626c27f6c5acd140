import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { enqueue } from '../../src/db/outbox.js';
import { findUser, requestAccess } from '../../src/db/users.js';
import { askAdmins } from '../../src/use-cases/notify.js';
import { DIGEST_EVERY_MS } from '../../src/outbox/render.js';
import { ADMIN_A, ADMIN_B, createHarness, type Harness } from '../support/harness.js';
import { buttons, type Call } from '../support/recorder.js';

// Pending requests for admins: a burst folds into one live digest per admin (src/outbox), which
// Review walks one request at a time and Approve all approves after a confirmation.

const ids = (n: number, first = 5000) => Array.from({ length: n }, (_, i) => first + i);

/** Users asking at once, as the onboarding does it (the request and its rows in one go), a second apart in arrival. */
async function burst(h: Harness, userIds: number[]): Promise<void> {
  for (const [i, id] of userIds.entries()) {
    h.rec.state.knowUser({ id, first_name: `Asker${id}` });
    await requestAccess(h.db, { id, first_name: `Asker${id}` }, h.deps.now() + i);
    await enqueue(h.db, askAdmins(h.deps.adminIds, id), h.deps.now());
  }
  await h.drain();
}

const digestOf = (h: Harness, adminId: number): Call | undefined =>
  h.rec.calls.filter((c) => c.payload.chat_id === adminId && buttons(c).some((b) => b.callback_data === 'rvw')).at(-1);

describe('admin digest and review', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness({ captcha: false });
  });
  afterEach(() => h.close());

  it('a lone request reaches each admin as it is; the rest of a burst folds into one digest per admin, edited in place at most every few seconds', async () => {
    await h.send(ADMIN_B, '/help'); // Boris reads Russian
    await burst(h, [4000]);
    for (const admin of [ADMIN_A, ADMIN_B]) expect(buttons(h.rec.last('sendMessage', admin.id)).map((b) => b.callback_data)).toEqual(['apr:4000', 'rej:4000']);

    const before = h.rec.calls.length;
    await burst(h, ids(10));
    for (const admin of [ADMIN_A, ADMIN_B]) {
      const sent = h.rec.find('sendMessage', admin.id, before);
      expect(sent).toHaveLength(1); // the digest, not ten requests
      expect(buttons(sent[0]).map((b) => b.callback_data)).toEqual(['rvw', expect.stringMatching(/^apa:\d+$/)]);
    }
    expect(h.rec.textsTo(ADMIN_A.id).at(-1)).toContain('11 pending requests');
    expect(h.rec.textsTo(ADMIN_A.id).at(-1)).toContain('Asker5009');
    expect(h.rec.textsTo(ADMIN_B.id).at(-1)).toContain('Заявок ждут решения: 11');

    // More come: the digest waits out its few seconds, then the same message shows the new count.
    const digest = digestOf(h, ADMIN_A.id)!;
    await burst(h, ids(3, 6000));
    expect(h.rec.find('sendMessage', ADMIN_A.id, before)).toHaveLength(1);
    expect(h.rec.textsTo(ADMIN_A.id).at(-1)).toContain('11 pending requests');
    h.advance(DIGEST_EVERY_MS);
    await h.drain();
    const edit = h.rec.last('editMessageText', ADMIN_A.id)!;
    expect(edit.payload.message_id).toBe(digest.result.message_id);
    expect(edit.payload.text).toContain('14 pending requests');
  });

  it('Review walks the queue oldest first: Approve, Reject and Skip move on; a request decided elsewhere is not shown again', async () => {
    await burst(h, ids(5));
    await h.press(ADMIN_A, 'rvw', digestOf(h, ADMIN_A.id));
    const review = h.rec.last('sendMessage', ADMIN_A.id)!;
    expect(review.payload.text).toContain('Request 1 of 5');
    expect(review.payload.text).toContain('5000');
    const shown = () => h.rec.last('editMessageText', ADMIN_A.id)!;

    await h.press(ADMIN_A, 'rvs:5000', review);
    expect(shown().payload.text).toContain('Request 2 of 5');
    expect(buttons(shown()).map((b) => b.callback_data)).toEqual(['rva:5001', 'rvr:5001', 'rvs:5001']);
    // Meanwhile the other admin rejects the next one in line.
    await h.press(ADMIN_B, 'rej:5002');
    await h.press(ADMIN_A, 'rva:5001', review);
    expect((await findUser(h.db, 5001))?.status).toBe('active');
    expect(h.rec.find('sendDocument', 5001)).toHaveLength(1);
    expect(shown().payload.text).toContain('5003');
    expect(shown().payload.text).toContain('Request 2 of 3');
    await h.press(ADMIN_A, 'rvr:5003', review);
    expect((await findUser(h.db, 5003))?.status).toBe('rejected');
    await h.press(ADMIN_A, 'rvs:5004', review);
    // The end: the skipped one is still there, from the start.
    expect(shown().payload.text).toContain('Still pending: 2');
    expect(buttons(shown()).map((b) => b.callback_data)).toEqual(['rvs:0']);
    await h.press(ADMIN_A, 'rvs:0', review);
    expect(shown().payload.text).toContain('Request 1 of 2');
    // A stale Approve of a request decided meanwhile says so and moves on.
    await h.press(ADMIN_A, 'rva:5002', review);
    expect(h.rec.last('answerCallbackQuery')?.payload.text).toContain('rejected');
    expect((await findUser(h.db, 5002))?.status).toBe('rejected');
  });

  it('Approve all asks first, then approves every request up to the newest the admin saw (not later ones); the digests close', async () => {
    await burst(h, ids(6));
    // The first of a quiet period goes as it is, the rest of the burst into the digest.
    expect(h.rec.find('sendMessage', ADMIN_A.id).map((c) => buttons(c)[0]?.callback_data)).toEqual(['apr:5000', 'rvw']);
    const digest = digestOf(h, ADMIN_A.id)!;
    const ask = buttons(digest)[1]!.callback_data;
    // One more arrives after the digest was shown.
    h.advance(1000);
    await burst(h, [7000]);
    await h.press(ADMIN_A, ask, digest);
    const confirm = h.rec.last('sendMessage', ADMIN_A.id)!;
    expect(confirm.payload.text).toContain('Approve all 6 pending requests');
    expect(buttons(confirm).map((b) => b.text)).toEqual(['✅ Approve 6', 'Cancel']);
    await h.press(ADMIN_A, buttons(confirm)[0]!.callback_data, confirm);
    for (const id of ids(6)) expect((await findUser(h.db, id))?.status).toBe('active');
    expect((await findUser(h.db, 7000))?.status).toBe('pending');
    const edits = h.rec.find('editMessageText', ADMIN_A.id).filter((c) => c.payload.message_id === confirm.result.message_id);
    expect(edits.at(-1)?.payload.text).toContain('Approved 6. Still pending: 1');
    // A double tap approves nothing more.
    await h.press(ADMIN_A, buttons(confirm)[0]!.callback_data, confirm);
    expect((await findUser(h.db, 7000))?.status).toBe('pending');

    await h.press(ADMIN_B, 'apr:7000');
    h.advance(DIGEST_EVERY_MS);
    await h.drain();
    for (const admin of [ADMIN_A, ADMIN_B]) expect(h.rec.textsTo(admin.id).at(-1)).toMatch(/No pending requests|Заявок больше нет/);
    // The next request after the burst is a request of its own again.
    await burst(h, [8000]);
    expect(buttons(h.rec.last('sendMessage', ADMIN_A.id)).map((b) => b.callback_data)).toEqual(['apr:8000', 'rej:8000']);
  });
});
