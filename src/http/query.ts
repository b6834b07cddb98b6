import { z } from 'zod';
import { isValidCursor } from '../store/paging.js';

/** `limit` and `cursor` of every list endpoint. */
export const pageQuery = {
  limit: z.coerce
    .number({ error: 'a whole number from 1 to 200' })
    .int('a whole number from 1 to 200')
    .min(1, 'a whole number from 1 to 200')
    .max(200, 'a whole number from 1 to 200')
    .default(50),
  cursor: z
    .string()
    .optional()
    .refine((c) => isValidCursor(c), 'the next_cursor of a previous page'),
};
