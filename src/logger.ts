import pino, { type Logger } from 'pino';

// Defence in depth: keys are never logged on purpose, and these paths are censored if one slips into a log object.
const REDACT = ['privateKey', 'private_key', 'presharedKey', 'preshared_key', '*.privateKey', '*.private_key', '*.presharedKey', '*.preshared_key', 'botToken', '*.botToken'];

export function createLogger(level: string): Logger {
  return pino({ level, redact: { paths: REDACT, censor: '[redacted]' } });
}
