import { ArgumentMetadata, BadRequestException, Injectable, PipeTransform } from '@nestjs/common';

/** Deeper bodies are refused: no request of this API nests past two levels. */
export const MAX_BODY_DEPTH = 32;

// Names class-transformer never copies onto a DTO, so the whitelist check cannot see them as unknown.
const PROTOTYPE_MEMBER_NAMES = new Set([...Object.getOwnPropertyNames(Object.prototype), 'prototype']);

/**
 * Runs before the ValidationPipe on every body: refuses absurd nesting (which would overflow the stack of
 * the transformation that follows: a 500), fields named after `Object.prototype` members (which that
 * transformation silently drops, so "unknown fields are refused" would not hold for them), and strings no
 * database stores as sent (see `unstorableText`). Iterative, so no body can overflow it.
 */
@Injectable()
export class StrictBodyPipe implements PipeTransform {
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    if (metadata.type !== 'body' || value === null || typeof value !== 'object') return value;
    const pending: Array<[unknown, number, string]> = [[value, 1, '']];
    while (pending.length > 0) {
      const [node, depth, path] = pending.pop()!;
      if (depth > MAX_BODY_DEPTH)
        throw new BadRequestException(`The request body is nested deeper than ${MAX_BODY_DEPTH} levels.`);
      for (const key of Object.keys(node as object)) {
        const field = path === '' ? key : `${path}.${key}`;
        refuseUnstorable(key, `The field name ${JSON.stringify(field)}`);
        if (!Array.isArray(node) && PROTOTYPE_MEMBER_NAMES.has(key))
          throw new BadRequestException([`property ${key} should not exist`]);
        const child = (node as Record<string, unknown>)[key];
        if (typeof child === 'string') refuseUnstorable(child, field);
        else if (child !== null && typeof child === 'object') pending.push([child, depth + 1, field]);
      }
    }
    return value;
  }
}

// Under the `u` flag a surrogate pair reads as one code point; only an unpaired half is category Cs.
const UNPAIRED_SURROGATE = /\p{Cs}/u;

/**
 * Why a string cannot be stored as sent, or undefined. PostgreSQL refuses U+0000 in text (a 500 if it reached
 * the database), and an unpaired UTF-16 surrogate has no UTF-8 form: drivers store U+FFFD instead, so the
 * response (and its replay) would show a value that a later GET does not. Refused on every database alike.
 */
export function unstorableText(text: string): string | undefined {
  if (text.includes('\u0000')) return 'must not contain the NUL character (U+0000)';
  if (UNPAIRED_SURROGATE.test(text)) return 'must not contain an unpaired UTF-16 surrogate (it is not valid Unicode)';
  return undefined;
}

function refuseUnstorable(text: string, subject: string): void {
  const problem = unstorableText(text);
  if (problem) throw new BadRequestException([`${subject} ${problem}`]);
}
