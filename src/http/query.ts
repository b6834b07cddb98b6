import { z } from 'zod';
import { decodeCursor, type CursorShape } from '../store/paging.js';

/** `limit` and `cursor` of every list endpoint, for a list whose cursor has `shape`. */
export const pageQuery = (shape: CursorShape) => ({
  limit: z.coerce
    .number({ error: 'a whole number from 1 to 200' })
    .int('a whole number from 1 to 200')
    .min(1, 'a whole number from 1 to 200')
    .max(200, 'a whole number from 1 to 200')
    .default(50),
  cursor: z
    .string()
    .optional()
    .refine((c) => c === undefined || decodeCursor(c, shape) !== undefined, 'the next_cursor of a previous page'),
});
