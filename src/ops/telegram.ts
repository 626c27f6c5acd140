// The few Bot API calls the operations tools make (getMe, getChat), with the token kept out of
// everything they print: it is part of the URL, so any error text may carry it.

export const DEFAULT_API_ROOT = 'https://api.telegram.org';
const TIMEOUT_MS = 10_000;

export type BotApiAnswer<T> = { ok: true; result: T } | { ok: false; status: number; description: string };

export interface BotUser {
  id: number;
  username?: string;
  first_name?: string;
}

export interface BotChat {
  id: number;
  username?: string;
  first_name?: string;
}

/** Replaces the token, and anything shaped like a token, with a placeholder. */
export function maskToken(text: string, token: string | undefined): string {
  const masked = token ? text.split(token).join('<BOT_TOKEN>') : text;
  return masked.replace(/\d{3,}:[A-Za-z0-9_-]{20,}/g, '<BOT_TOKEN>');
}

function describeFetchError(e: unknown): string {
  if (e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError')) return `no answer within ${TIMEOUT_MS / 1000} s`;
  // undici puts the useful part (ECONNREFUSED, ENOTFOUND, certificate errors) in `cause`.
  const cause = e instanceof Error ? (e.cause as { code?: string; message?: string } | undefined) : undefined;
  const detail = cause?.code ?? cause?.message;
  const message = e instanceof Error ? e.message : String(e);
  return detail ? `${message} (${detail})` : message;
}

/**
 * POSTs one Bot API method. Telegram's own refusals come back as `{ ok: false }`; only a
 * network failure (no answer at all) throws, with the token masked.
 */
export async function callBotApi<T>(
  fetchFn: typeof fetch,
  apiRoot: string,
  token: string,
  method: string,
  params: Record<string, unknown> = {},
): Promise<BotApiAnswer<T>> {
  const root = apiRoot.replace(/\/+$/, '');
  let status: number;
  let statusText: string;
  let body: { ok?: boolean; result?: T; description?: string; error_code?: number } = {};
  try {
    const res = await fetchFn(`${root}/bot${token}/${method}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(params),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    status = res.status;
    statusText = res.statusText;
    const text = await res.text();
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      // Not the Bot API (a proxy's error page, say): the status line is all we have.
    }
  } catch (e) {
    throw new Error(maskToken(`cannot reach ${root}: ${describeFetchError(e)}`, token));
  }
  if (status >= 200 && status < 300 && body.ok === true) return { ok: true, result: body.result as T };
  return {
    ok: false,
    status: body.error_code ?? status,
    description: maskToken(body.description ?? (statusText || `HTTP ${status}`), token),
  };
}

export type TokenCheck = { ok: true; username: string } | { ok: false; problem: string; fix: string };

/** getMe, explained: the bot's @username, or what is wrong and how to fix it. */
export async function checkBotToken(fetchFn: typeof fetch, apiRoot: string, token: string): Promise<TokenCheck> {
  let answer: BotApiAnswer<BotUser>;
  try {
    answer = await callBotApi<BotUser>(fetchFn, apiRoot, token, 'getMe');
  } catch (e) {
    return {
      ok: false,
      problem: (e as Error).message,
      fix: 'check that this server can make outgoing HTTPS connections (DNS, firewall, proxy), or set TELEGRAM_API_ROOT',
    };
  }
  if (answer.ok) return { ok: true, username: answer.result.username ?? String(answer.result.id) };
  if (answer.status === 401 || answer.status === 404) {
    // Telegram answers 404 to a token that is not a token at all, 401 to a revoked or mistyped one.
    return {
      ok: false,
      problem: `BOT_TOKEN rejected by Telegram (${answer.status} ${answer.description})`,
      fix: 'copy the token again from @BotFather (/mybots → your bot → API Token)',
    };
  }
  return {
    ok: false,
    problem: `Telegram answered ${answer.status} ${answer.description}`,
    fix: 'check BOT_TOKEN and TELEGRAM_API_ROOT, then try again',
  };
}
