import { GrammyError } from 'grammy';
import pino, { type DestinationStream, type Logger } from 'pino';

// Defence in depth: keys are never logged on purpose, and these paths are censored if one slips into a log object.
// `payload` is what a Bot API call sent: a config's keys, an invite link.
const REDACT = [
  'privateKey',
  'private_key',
  'presharedKey',
  'preshared_key',
  '*.privateKey',
  '*.private_key',
  '*.presharedKey',
  '*.preshared_key',
  'botToken',
  '*.botToken',
  'payload',
  '*.payload',
];

/**
 * A refused Bot API call as method, code and description only: pino's own serializer copies the
 * call's payload (keys, invite links), and an InputFile in it makes the whole error unserializable.
 */
export function serializeError(e: unknown): unknown {
  if (e instanceof GrammyError) return { type: e.name, message: e.message, method: e.method, error_code: e.error_code, description: e.description };
  return e instanceof Error ? pino.stdSerializers.err(e) : e;
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACT, censor: '[redacted]' }, serializers: { err: serializeError } }, destination);
}
