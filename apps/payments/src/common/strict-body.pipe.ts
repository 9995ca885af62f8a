import { ArgumentMetadata, BadRequestException, Injectable, PipeTransform } from '@nestjs/common';

/** Deeper bodies are refused: no request of this API nests past two levels. */
export const MAX_BODY_DEPTH = 32;

// Names class-transformer never copies onto a DTO, so the whitelist check cannot see them as unknown.
const PROTOTYPE_MEMBER_NAMES = new Set([...Object.getOwnPropertyNames(Object.prototype), 'prototype']);

/**
 * Runs before the ValidationPipe on every body: refuses absurd nesting (which would overflow the stack of
 * the transformation that follows: a 500) and fields named after `Object.prototype` members (which that
 * transformation silently drops, so "unknown fields are refused" would not hold for them). Iterative, so no
 * body can overflow it.
 */
@Injectable()
export class StrictBodyPipe implements PipeTransform {
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    if (metadata.type !== 'body' || value === null || typeof value !== 'object') return value;
    const pending: Array<[unknown, number]> = [[value, 1]];
    while (pending.length > 0) {
      const [node, depth] = pending.pop()!;
      if (depth > MAX_BODY_DEPTH) throw new BadRequestException(`The request body is nested deeper than ${MAX_BODY_DEPTH} levels.`);
      for (const key of Object.keys(node as object)) {
        if (!Array.isArray(node) && PROTOTYPE_MEMBER_NAMES.has(key)) throw new BadRequestException([`property ${key} should not exist`]);
        const child = (node as Record<string, unknown>)[key];
        if (child !== null && typeof child === 'object') pending.push([child, depth + 1]);
      }
    }
    return value;
  }
}
