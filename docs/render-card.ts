// Renders docs/admin-card.png for the README: the bot itself builds the card and the chart
// (test harness: real database, real renderers, the Telegram stand-in records what it sends);
// headless Chromium only lays the recorded message out like a Telegram chat.
// Run: npx tsx docs/render-card.ts   (needs Debian's chromium)
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { peersOfUser } from '../src/db/peers.js';
import { dayOf } from '../src/db/traffic-buckets.js';
import { ADMIN_A, createHarness } from '../test/support/harness.js';
import type { Call, From } from '../test/support/recorder.js';

const DAY = 86_400_000;
const GIB = 1024 ** 3;
const out = path.join(path.dirname(fileURLToPath(import.meta.url)), 'admin-card.png');
const USER: From = { id: 7001, first_name: 'Marina', last_name: 'K.', username: 'marina_k', language_code: 'en' };

const h = await createHarness({ captcha: false, database: 'sqlite' });
try {
  await h.send(USER, '/start');
  await h.press(ADMIN_A, `apr:${USER.id}`);
  await h.send(USER, '/devices');
  const [peer] = await peersOfUser(h.db, USER.id);
  // 30 days of plausible use: evenings heavier, weekends more; uploads a tenth of downloads.
  const today = Date.parse(dayOf(h.deps.now()));
  const rows = Array.from({ length: 30 }, (_, i) => {
    const day = dayOf(today - (29 - i) * DAY);
    const weekend = [0, 6].includes(new Date(day).getUTCDay());
    const tx = Math.round((0.6 + 0.5 * Math.sin(i / 2.3) ** 2 + (weekend ? 0.9 : 0)) * GIB);
    return { peer_id: peer!.id, day, rx: Math.round(tx / 9), tx };
  });
  await h.db.insertInto('traffic_daily').values(rows).execute();
  const total = rows.reduce((s, r) => s + r.rx + r.tx, 0);
  await h.db.updateTable('peer_traffic').set({ rx_total: rows.reduce((s, r) => s + r.rx, 0), tx_total: rows.reduce((s, r) => s + r.tx, 0), last_handshake_at: h.deps.now() - 4 * 60_000 }).where('peer_id', '=', peer!.id).execute();
  await h.db
    .updateTable('users')
    .set({ quota_bytes: 100 * GIB, topup_bytes: 10 * GIB, usage_bytes: Math.round(total * 0.6), expires_at: h.deps.now() + 41 * DAY, speed_down_kbit: 50_000, speed_up_kbit: 10_000 })
    .where('id', '=', USER.id)
    .execute();

  await h.press(ADMIN_A, `usr:${USER.id}`);
  const card = h.rec.calls.filter((c) => c.payload.chat_id === ADMIN_A.id && /^(sendMessage|editMessageText)$/.test(c.method)).at(-1)!;
  await h.press(ADMIN_A, `cht:${USER.id}`, card);
  const chart = h.rec.last('sendPhoto', ADMIN_A.id)!;
  await shoot(card, chart);
  console.log(`wrote ${out}`);
} finally {
  await h.close();
}

/** The card and the chart as two messages of a Telegram chat, screenshotted by headless Chromium. */
async function shoot(card: Call, chart: Call): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'card-shot-'));
  try {
    await fs.writeFile(path.join(dir, 'chart.png'), chart.files.photo!.data);
    const keyboard = (card.payload.reply_markup?.inline_keyboard ?? []) as { text: string }[][];
    const rowsHtml = keyboard.map((row) => `<div class="row">${row.map((b) => `<span>${esc(b.text)}</span>`).join('')}</div>`).join('');
    // The bot's HTML parse-mode text is shown as Telegram shows it: its tags are a subset of HTML.
    const html = `<!doctype html><meta charset="utf-8"><style>
      body { margin: 0; background: #8fb2c9; font: 15px/1.35 'DejaVu Sans', sans-serif; }
      .chat { width: 520px; padding: 14px; }
      .msg { background: #fff; border-radius: 12px; padding: 9px 12px; white-space: pre-wrap; margin-bottom: 6px; }
      .photo { background: #fff; border-radius: 12px; padding: 4px; margin-bottom: 10px; }
      .photo img { width: 100%; aspect-ratio: 2; border-radius: 9px; display: block; }
      .photo div { padding: 6px 8px 4px; white-space: pre-wrap; }
      code { font-family: 'DejaVu Sans Mono', monospace; font-size: 13px; }
      .row { display: flex; gap: 5px; margin-top: 5px; }
      .row span { flex: 1; text-align: center; background: rgba(40, 70, 90, .45); color: #fff; border-radius: 8px; padding: 8px 4px; font-size: 13px; }
    </style><div class="chat">
      <div class="msg">${card.payload.text}</div>${rowsHtml}
      <div style="height:12px"></div>
      <div class="photo"><img src="chart.png"><div>${chart.payload.caption ?? ''}</div></div>
    </div>`;
    const page = `file://${path.join(dir, 'page.html')}`;
    // First the page's height (a script puts it in the DOM), then a screenshot of exactly that.
    await fs.writeFile(path.join(dir, 'page.html'), `${html}<script>document.body.dataset.h = document.body.scrollHeight</script>`);
    const chromium = (args: string[]) =>
      promisify(execFile)('chromium', ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--disable-background-networking', '--no-first-run', `--user-data-dir=${path.join(dir, 'profile')}`, ...args], { timeout: 60_000 });
    const dom = (await chromium(['--window-size=548,600', '--dump-dom', page])).stdout;
    const height = Number(/data-h="(\d+)"/.exec(dom)?.[1] ?? 1100);
    await chromium([`--window-size=548,${height}`, `--screenshot=${out}`, page]);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

function esc(s: string): string {
  return s.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]!);
}
