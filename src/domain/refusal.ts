/**
 * What kind of "no" a refusal is: the contract with the edges. HTTP maps each kind to
 * one status, in one table (src/api/problems.ts). A refusal's code says which rule refused.
 */
export type RefusalKind =
  /** The request cannot be read: not JSON, not the shape, not text we can store. */
  | 'malformed'
  /** Understood, and against a rule: an unknown product, a receipt Apple refuses. */
  | 'invalid'
  /** Who is asking is not proven: no credential, an expired or forged one. */
  | 'unauthenticated'
  /** Proven, and not allowed. */
  | 'forbidden'
  | 'not_found'
  /** Against what is already true: a purchase another user owns. */
  | 'conflict'
  /** The body is not in a media type we take. */
  | 'unsupported_media_type'
  /** Not now, maybe later: a store, or our database, cannot answer. Worth retrying. */
  | 'unavailable'
  /** A service we depend on refuses us because of our own configuration (a wrong shared secret). */
  | 'bad_gateway';

export interface RefusalOptions extends ErrorOptions {
  /** Members the answer carries besides the code and detail (RFC 9457 extensions). */
  readonly extensions?: Readonly<Record<string, unknown>>;
}

/**
 * The one base of every expected failure: a rule, a check or a store said no. Anything
 * thrown that is not a Refusal is a fault of ours, answered as one (500) and logged
 * with its stack; a Refusal is answered with its kind's status and logged without one.
 */
export class Refusal<Code extends string = string> extends Error {
  readonly kind: RefusalKind;
  readonly code: Code;
  readonly extensions: Readonly<Record<string, unknown>>;

  constructor(kind: RefusalKind, code: Code, message: string, options: RefusalOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.code = code;
    this.extensions = options.extensions ?? {};
    this.name = new.target.name;
  }
}

/** For families of refusals whose codes differ in kind: each code's kind, in one table beside the codes. */
export type KindOfCode<Code extends string> = Readonly<Record<Code, RefusalKind>>;

/**
 * The base of such a family: `class XRefused extends refusalFamily(KIND_OF) {}` is made
 * with a code and a message, and takes its kind from the table.
 */
export function refusalFamily<Code extends string>(kindOf: KindOfCode<Code>) {
  return class extends Refusal<Code> {
    constructor(code: Code, message: string, options?: RefusalOptions) {
      super(kindOf[code], code, message, options);
    }
  };
}
