import { z } from 'zod';
import type { DestinationRow } from '../../../store/destinations.js';

/** A mailbox. Stored lower-cased, so one address is one destination of an account. */
export const emailDestination = z.object({ type: z.literal('email'), address: z.string().min(3).max(254) });
export type EmailDestination = z.infer<typeof emailDestination>;

export const emailFromRow = (row: DestinationRow) => ({ type: 'email', address: row.address });
export const emailColumns = (d: EmailDestination) => ({ address: d.address.toLowerCase() });
export const emailTargetKey = (d: EmailDestination) => `email:${d.address.toLowerCase()}`;
