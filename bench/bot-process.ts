// The bot as `node dist/main.js` runs it (same config, same startApp), with one difference for
// the throughput comparison: Telegram's 30 messages/s throttle is off, as it is for the bare bot
// it is compared with, so both are measured on what they do per update, not on the throttle.
import { startApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';

process.umask(0o077);
const config = loadConfig(process.env);
const app = await startApp(config, createLogger(config.logLevel), { throttle: false });
process.once('SIGTERM', () => void app.stop().then(() => process.exit(0)));
