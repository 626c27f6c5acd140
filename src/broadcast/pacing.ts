/** Time as the broadcaster sees it; tests pass a virtual clock so pacing costs no real time. */
export interface Clock {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
}

export const realClock: Clock = {
  now: Date.now,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * A token bucket: `ratePerSec` tokens a second, at most `burst` saved up. Telegram allows about
 * 30 messages a second overall; keeping our own pace (below that) means a broadcast neither
 * collects 429s nor starves the bot's other messages, with or without the API throttler.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly intervalMs: number;

  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
    private readonly clock: Clock,
  ) {
    this.tokens = burst;
    this.last = clock.now();
    this.intervalMs = 1000 / ratePerSec;
  }

  /** Resolves when a token is available, and takes it. */
  async take(): Promise<void> {
    for (;;) {
      const now = this.clock.now();
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.ratePerSec) / 1000);
      this.last = now;
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      await this.clock.sleep(Math.ceil((1 - this.tokens) * this.intervalMs));
    }
  }
}
