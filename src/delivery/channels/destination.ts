import { z } from 'zod';
import type { DestinationRow } from '../../store/destinations.js';
import type { DestinationType } from '../../../db/schema.js';
import { emailColumns, emailDestination, emailFromRow, emailTargetKey } from './email/destination.js';
import { slackColumns, slackDestination, slackFromRow, slackTargetKey } from './slack/destination.js';
import { discordColumns, discordDestination, discordFromRow, discordTargetKey } from './discord/destination.js';
import { webhookColumns, webhookDestination, webhookFromRow, webhookTargetKey } from './webhook/destination.js';
import { teamsColumns, teamsDestination, teamsFromRow, teamsTargetKey } from './teams/destination.js';

/**
 * Every channel's destination, typed: what a renderer and a sender are handed. A stored row is
 * parsed into one once, when it is read (and checked the same way when it is created), so no
 * channel re-checks nullable columns at send time.
 */
export const destinationSchema = z.union([emailDestination, slackDestination, discordDestination, webhookDestination, teamsDestination]);
export type Destination = z.infer<typeof destinationSchema>;
export type DestinationOf<T extends DestinationType> = Extract<Destination, { type: T }>;

/** What a destination is created from: a channel's destination less what the server adds (a webhook's secret). */
export type DestinationTarget = Exclude<Destination, { type: 'webhook' }> | { type: 'webhook'; url: string };

/** Each channel's mapping between its destination and the destinations table. */
const TABLE: { [T in DestinationType]: { schema: z.ZodType<DestinationOf<T>>; fromRow: (row: DestinationRow) => unknown; columns: (d: Extract<DestinationTarget, { type: T }>) => Partial<DestinationRow>; targetKey: (d: Extract<DestinationTarget, { type: T }>) => string } } = {
  email: { schema: emailDestination, fromRow: emailFromRow, columns: emailColumns, targetKey: emailTargetKey },
  slack: { schema: slackDestination, fromRow: slackFromRow, columns: slackColumns, targetKey: slackTargetKey },
  discord: { schema: discordDestination, fromRow: discordFromRow, columns: discordColumns, targetKey: discordTargetKey },
  webhook: { schema: webhookDestination, fromRow: webhookFromRow, columns: webhookColumns, targetKey: webhookTargetKey },
  teams: { schema: teamsDestination, fromRow: teamsFromRow, columns: teamsColumns, targetKey: teamsTargetKey },
};

/** The typed destination of a stored row, or why the row is not one (a column its channel needs is empty). */
export function parseDestination(row: DestinationRow): { ok: true; destination: Destination } | { ok: false; reason: string } {
  const channel = TABLE[row.type] as (typeof TABLE)[DestinationType];
  const r = channel.schema.safeParse(channel.fromRow(row));
  if (r.success) return { ok: true, destination: r.data };
  const fields = [...new Set(r.error.issues.map((i) => i.path.join('.')).filter(Boolean))];
  return { ok: false, reason: `the stored ${row.type} destination is incomplete${fields.length ? ` (${fields.join(', ')})` : ''}` };
}

/** The columns a target is stored in. */
export function destinationColumns<T extends DestinationType>(t: Extract<DestinationTarget, { type: T }>): Partial<DestinationRow> {
  return (TABLE[t.type as T].columns as (d: typeof t) => Partial<DestinationRow>)(t);
}

/** One key per target, so the same channel or address is one destination of an account. */
export function destinationTargetKey<T extends DestinationType>(t: Extract<DestinationTarget, { type: T }>): string {
  return (TABLE[t.type as T].targetKey as (d: typeof t) => string)(t);
}
