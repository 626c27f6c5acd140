import type { Config } from '../../config.js';
import { type BotApiAnswer, type BotChat, callBotApi, checkBotToken } from '../telegram.js';
import { type Check, type CheckResult, errorText, fail, pass, skip } from './check.js';
import type { DoctorEnv } from './host.js';
import { checkWebhookInfo } from './webhook.js';

export const checkTelegram: Check = async (denv, config) => {
  const me = await checkBotToken(denv.fetch, config.telegramApiRoot, config.botToken);
  if (!me.ok) {
    return [fail('bot token', me.problem, me.fix), ...[...config.adminIds.map((id) => `admin ${id}`), 'webhook'].map((name) => skip(name, 'the bot token does not work'))];
  }
  const [webhook, ...admins] = await Promise.all([checkWebhookInfo(denv, config), ...config.adminIds.map((id) => checkAdmin(denv, config, id, me.username))]);
  return [pass('bot token', `@${me.username}`), ...admins, webhook];
};

async function checkAdmin(denv: DoctorEnv, config: Config, id: number, botUsername: string): Promise<CheckResult> {
  const name = `admin ${id}`;
  let answer: BotApiAnswer<BotChat>;
  try {
    answer = await callBotApi<BotChat>(denv.fetch, config.telegramApiRoot, config.botToken, 'getChat', { chat_id: id });
  } catch (e) {
    return fail(name, errorText(e), 'check the network, then run the doctor again');
  }
  if (answer.ok) {
    const who = answer.result.username ? `@${answer.result.username}` : (answer.result.first_name ?? 'user');
    return pass(name, `${who} has started the bot`);
  }
  if (answer.status === 400 && /chat not found/i.test(answer.description)) {
    return fail(name, `admin ${id} has not sent /start to the bot yet`, `open https://t.me/${botUsername} from that account and press Start (and check the id with @userinfobot)`);
  }
  return fail(name, `getChat answered ${answer.status} ${answer.description}`, 'check ADMIN_IDS');
}
