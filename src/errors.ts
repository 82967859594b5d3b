/**
 * The root of every error tapdance throws.
 *
 * Each layer (crypto, tls, protocol, client, station, pt) defines its own subclass in its own
 * `errors.ts` with a closed set of stable `code` strings (`ERR_TLS_BAD_RECORD_MAC`, …). Codes
 * never change meaning once released; messages may. `context` carries machine-readable detail
 * (never a client address).
 *
 * `instanceof` works across duplicate installs of the package: each class carries a
 * `Symbol.for` brand and checks it in `Symbol.hasInstance`, as undici does.
 *
 * @module
 */

const kBrands = Symbol.for('tapdance.error.brands');

/** Options accepted by every tapdance error constructor. */
export interface TapDanceErrorOptions {
  /** The lower-level error that caused this one. */
  cause?: unknown;
  /** Machine-readable detail: lengths, states, suite ids. Never a client address. */
  context?: Record<string, unknown>;
}

/**
 * Base class of all tapdance errors.
 *
 * @example
 * ```ts
 * try { await dial(opts) } catch (err) {
 *   if (err instanceof TapDanceError) console.error(err.code, err.context)
 * }
 * ```
 */
export class TapDanceError extends Error {
  /** Stable identifier of the failure, e.g. `ERR_TLS_BAD_RECORD_MAC`. */
  readonly code: string;
  /** Machine-readable detail; safe to log. */
  readonly context: Readonly<Record<string, unknown>>;

  constructor(code: string, message: string, options: TapDanceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.context = Object.freeze({ ...(options.context ?? {}) });
    // Brand the instance with the names of every class in its prototype chain.
    const brands = new Set<string>();
    for (let p = Object.getPrototypeOf(this); p && p !== Error.prototype; p = Object.getPrototypeOf(p)) {
      brands.add((p.constructor as { brand?: string }).brand ?? p.constructor.name);
    }
    Object.defineProperty(this, kBrands, { value: brands, enumerable: false });
  }

  /** Brand used by `instanceof` across copies of the package; subclasses override it. */
  static brand = 'TapDanceError';

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (value === null || typeof value !== 'object') return false;
    const brands = (value as { [kBrands]?: Set<string> })[kBrands];
    return brands !== undefined && brands.has(this.brand);
  }

  override get name(): string {
    return (this.constructor as typeof TapDanceError).brand;
  }

  /** A plain object for JSON logs: code, message, context, and the cause's code or message. */
  toJSON(): Record<string, unknown> {
    const cause = this.cause as { code?: unknown; message?: unknown } | undefined;
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      context: this.context,
      ...(cause === undefined ? {} : { cause: cause.code ?? cause.message ?? String(cause) }),
    };
  }
}

/**
 * Thrown for a wrong argument at a public boundary (type or range). Code `ERR_INVALID_ARG`.
 * Inner code trusts the parsed types and never throws this.
 */
export class InvalidArgumentError extends TapDanceError {
  static override brand = 'InvalidArgumentError';
  constructor(message: string, options: TapDanceErrorOptions = {}) {
    super('ERR_INVALID_ARG', message, options);
  }
}
