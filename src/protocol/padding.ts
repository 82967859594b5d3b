/**
 * Padding and filler the public client adds so that requests and control messages vary in size
 * (SPEC.md "Padding"). All lengths are the integer mean of several uniform draws, which makes them
 * cluster around the middle of their range like the public client's `getRandPadding`:
 *
 * | where | length |
 * |---|---|
 * | `X-Ignore` of the tagged request | mean of 10 draws from [7, max(612 − L, 7)], L = shared-header length |
 * | give-up completion | mean of 5 draws from [456, 789], then `\r\nConnection: close\r\n\r\n` |
 * | transition message `padding` | mean of 5 draws from [250 − d, 800 − d], d = size of the failed-decoys part |
 *
 * Failed decoys reported in one transition message are limited to 250 encoded bytes; the rest wait
 * for the next one.
 *
 * @module
 */
import { randomInt as cryptoRandomInt } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import { encodeClientToStation } from './messages.js';

/** A uniform random integer in [min, max], both inclusive. Tests inject deterministic ones. */
export type RandomInt = (min: number, max: number) => number;

/** The default {@link RandomInt}: `crypto.randomInt`, unbiased. */
export const systemRandomInt: RandomInt = (min, max) => cryptoRandomInt(min, max + 1);

/** Lower bound of the X-Ignore padding. */
export const X_IGNORE_PADDING_MIN = 7;
/** The X-Ignore padding aims at shared headers + padding ≈ this many bytes. */
export const X_IGNORE_TARGET = 612;
/** Failed-decoy bytes one transition message may carry. */
export const FAILED_DECOYS_BUDGET = 250;
/** Transition padding range before subtracting the failed-decoys size. */
export const TRANSITION_PADDING_RANGE = [250, 800] as const;
/** Give-up completion padding range. */
export const GIVE_UP_PADDING_RANGE = [456, 789] as const;

/**
 * The integer mean of `samples` draws from [min, max] (if max < min, the range is [max, min]).
 *
 * @param min - lower bound
 * @param max - upper bound
 * @param samples - number of draws (≥ 1)
 * @param randomInt - random source
 * @returns an integer within the range
 * @throws {@link InvalidArgumentError} for non-integer bounds or samples < 1
 */
export function meanRandomInt(min: number, max: number, samples: number, randomInt: RandomInt = systemRandomInt): number {
  if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max)) throw new InvalidArgumentError('"min" and "max" must be integers');
  if (!Number.isInteger(samples) || samples < 1) throw new InvalidArgumentError(`"samples" expected ≥ 1, got ${samples}`);
  const lo = Math.min(min, max);
  const hi = Math.max(min, max);
  let sum = 0;
  for (let i = 0; i < samples; i++) sum += lo === hi ? lo : randomInt(lo, hi);
  return Math.floor(sum / samples);
}

/**
 * Length of the `#` padding in the X-Ignore header of the tagged request.
 *
 * @param sharedHeadersLength - L: length of `Host: …\nUser-Agent: …[\nX-Proto: …]` with bare `\n`
 * @param randomInt - random source
 * @returns padding length in [7, max(612 − L, 7)]
 */
export function xIgnorePaddingLength(sharedHeadersLength: number, randomInt: RandomInt = systemRandomInt): number {
  const max = Math.max(X_IGNORE_TARGET - sharedHeadersLength, X_IGNORE_PADDING_MIN);
  return meanRandomInt(X_IGNORE_PADDING_MIN, max, 10, randomInt);
}

/**
 * The text a client writes when the station did not answer, so that the decoy receives a complete,
 * valid request and answers normally: `#` padding, then `\r\nConnection: close\r\n\r\n`. (The
 * padding continues the unterminated X-Ignore header.)
 *
 * @param randomInt - random source
 * @returns ASCII bytes
 */
export function giveUpCompletion(randomInt: RandomInt = systemRandomInt): Uint8Array {
  const n = meanRandomInt(GIVE_UP_PADDING_RANGE[0], GIVE_UP_PADDING_RANGE[1], 5, randomInt);
  return new TextEncoder().encode(`${'#'.repeat(n)}\r\nConnection: close\r\n\r\n`);
}

/**
 * Choose the failed decoys that fit one transition message: the longest prefix of the list whose
 * encoding as `ClientToStation.failed_decoys` is at most 250 bytes.
 *
 * @param failedDecoys - `"hostname ip:443"` strings, oldest first
 * @param budget - byte budget (default 250)
 * @returns `send` (this message), `later` (the rest), and `size`: the encoded size of `send`
 */
export function splitFailedDecoys(
  failedDecoys: readonly string[],
  budget = FAILED_DECOYS_BUDGET,
): { send: string[]; later: string[]; size: number } {
  let size = 0;
  let n = 0;
  while (n < failedDecoys.length) {
    const next = encodeClientToStation({ failedDecoys: failedDecoys.slice(0, n + 1) }).length;
    if (next > budget) break;
    size = next;
    n++;
  }
  return { send: failedDecoys.slice(0, n), later: failedDecoys.slice(n), size };
}

/**
 * The `padding` field of a transition message (e.g. `C2S_EXPECT_RECONNECT`).
 *
 * @param failedDecoysSize - `size` from {@link splitFailedDecoys} (0 when none are reported)
 * @param randomInt - random source
 * @returns `#` bytes, length mean of 5 draws from [250 − d, 800 − d]
 */
export function transitionPadding(failedDecoysSize: number, randomInt: RandomInt = systemRandomInt): Uint8Array {
  const [lo, hi] = TRANSITION_PADDING_RANGE;
  const n = meanRandomInt(lo - failedDecoysSize, hi - failedDecoysSize, 5, randomInt);
  return new Uint8Array(Math.max(n, 0)).fill(0x23);
}
