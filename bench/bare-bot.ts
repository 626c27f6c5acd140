// The reference bot: grammY with its runner (concurrent long polling, what a grammY bot usually runs), answering
// every update with one sendMessage and nothing else.
import { run } from '@grammyjs/runner';
import { Bot } from 'grammy';

const bot = new Bot(process.env.BOT_TOKEN!, { client: { apiRoot: process.env.TELEGRAM_API_ROOT! } });
bot.on('message', (ctx) => ctx.api.sendMessage(ctx.chat.id, 'Hello'));
await bot.init();
const runner = run(bot);
console.log(JSON.stringify({ msg: 'taking updates' }));
process.once('SIGTERM', () => void runner.stop().then(() => process.exit(0)));
