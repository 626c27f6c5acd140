// The reference bot: grammY with the same runner as the bot (concurrent long polling), answering
// every update with one sendMessage and nothing else.
import { run } from '@grammyjs/runner';
import { Bot } from 'grammy';

const bot = new Bot(process.env.BOT_TOKEN!, { client: { apiRoot: process.env.TELEGRAM_API_ROOT! } });
bot.on('message', (ctx) => ctx.api.sendMessage(ctx.chat.id, 'Hello'));
await bot.init();
const runner = run(bot);
console.log(JSON.stringify({ msg: 'taking updates' }));
process.once('SIGTERM', () => void runner.stop().then(() => process.exit(0)));
