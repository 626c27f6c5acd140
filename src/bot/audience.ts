import type { Db } from '../db/index.js';
import type { UserStatus } from '../db/schema.js';
import { PRIORITY, type Priority } from './pacer.js';

/** Users who have been let in (whatever their state now): they go before newcomers when the bot is busy. */
const MEMBER: ReadonlySet<UserStatus> = new Set(['provisioning', 'active', 'disabled', 'limited', 'expired']);

/**
 * Who a chat is, for the order in which updates are handled and messages go out when Telegram's
 * limits make people wait: admins, then members, then newcomers. Members are read at start and
 * noted as their updates arrive, so this is a hint for ordering, never a check of rights.
 */
export class Audience {
  private readonly admins: ReadonlySet<number>;
  private readonly members = new Set<number>();

  constructor(adminIds: readonly number[]) {
    this.admins = new Set(adminIds);
  }

  /** Every member in the database (once, at start). */
  async load(db: Db): Promise<void> {
    const rows = await db.selectFrom('users').select('id').where('status', 'in', [...MEMBER]).execute();
    for (const r of rows) this.members.add(Number(r.id));
  }

  /** What an update said about its user (their row as it was read). */
  note(userId: number, status: UserStatus | undefined): void {
    if (status && MEMBER.has(status)) this.members.add(userId);
    else this.members.delete(userId);
  }

  priorityOf(chatId: number): Priority {
    return this.admins.has(chatId) ? PRIORITY.admin : this.members.has(chatId) ? PRIORITY.member : PRIORITY.newcomer;
  }
}
