import type { Api } from 'grammy';
import type { Logger } from 'pino';
import { LOCALES, type Translator } from './i18n.js';

const USER_COMMANDS = ['start', 'status', 'usage', 'config', 'devices', 'language', 'help'];
export const ADMIN_ONLY_COMMANDS = ['admin', 'nodes', 'invite', 'invites', 'broadcast', 'backup'];
const ADMIN_COMMANDS = [...USER_COMMANDS, ...ADMIN_ONLY_COMMANDS];

/** The command menu in every locale: the users' one for all, and the admins' one in each admin's chat. A failure is only logged. */
export async function setCommandMenus(api: Api, translator: Translator, adminIds: readonly number[], log: Logger): Promise<void> {
  for (const locale of LOCALES) {
    const describe = (c: string) => ({ command: c, description: translator.t(locale, `cmd-${c}`) });
    const languageCode = locale === 'en' ? undefined : locale;
    try {
      await api.setMyCommands(USER_COMMANDS.map(describe), { language_code: languageCode });
      for (const id of adminIds) {
        await api.setMyCommands(ADMIN_COMMANDS.map(describe), { scope: { type: 'chat', chat_id: id }, language_code: languageCode });
      }
    } catch (err) {
      log.warn({ err }, 'could not set the command menu');
    }
  }
}
