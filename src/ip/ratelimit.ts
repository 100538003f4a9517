/**
 * Token buckets for rate limiting, driven by an explicit clock.
 * RFC 4443 section 2.4 (f) (ICMPv6 error rate limiting, token bucket suggested), RFC 1812 section
 * 4.3.2.8 (ICMP rate limiting), RFC 5961 section 10 (challenge ACK throttling).
 *
 * A bucket holds up to `burst` tokens and gains `ratePerSec` tokens a second; sending takes one.
 * Time comes in as `now` in milliseconds (the bindings' `now()`); a clock that goes backwards adds
 * nothing. Nothing here allocates after construction (the keyed limiter allocates per new key).
 */

/** A token bucket: `burst` tokens at most, refilled at `ratePerSec`. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly ratePerSec: number,
    readonly burst: number,
    now = 0,
  ) {
    if (!(ratePerSec >= 0) || !(burst >= 0)) throw new RangeError("rate and burst must be >= 0");
    this.tokens = burst;
    this.last = now;
  }

  private refill(now: number): void {
    if (now > this.last) {
      const t = this.tokens + ((now - this.last) * this.ratePerSec) / 1000;
      this.tokens = Math.min(t, this.burst);
      this.last = now;
    }
  }

  /** Take `n` tokens if there are that many: true means "send". */
  take(now: number, n = 1): boolean {
    this.refill(now);
    if (this.tokens >= n) {
      this.tokens -= n;
      return true;
    }
    return false;
  }

  /** Tokens available at `now` (fractional). */
  available(now: number): number {
    this.refill(now);
    return this.tokens;
  }

  /** Back to a full bucket. */
  reset(now: number): void {
    this.tokens = this.burst;
    this.last = now;
  }
}

/**
 * One token bucket per key (e.g. per destination address, as Linux limits ICMP errors per peer),
 * bounded: past `maxKeys` the least recently used key is forgotten. A forgotten key starts again
 * with a full bucket, so pair this with a global `TokenBucket` when keys are attacker-chosen.
 */
export class KeyedRateLimiter<K> {
  private readonly buckets = new Map<K, TokenBucket>();

  constructor(
    readonly ratePerSec: number,
    readonly burst: number,
    readonly maxKeys = 1024,
  ) {}

  get size(): number {
    return this.buckets.size;
  }

  /** Take one token from `key`'s bucket: true means "send". */
  take(key: K, now: number): boolean {
    let b = this.buckets.get(key);
    if (b === undefined) {
      if (this.buckets.size >= this.maxKeys) {
        for (const k of this.buckets.keys()) {
          this.buckets.delete(k);
          break;
        }
      }
      b = new TokenBucket(this.ratePerSec, this.burst, now);
    } else {
      // Move the key to the most recently used end.
      this.buckets.delete(key);
    }
    this.buckets.set(key, b);
    return b.take(now);
  }

  clear(): void {
    this.buckets.clear();
  }
}
