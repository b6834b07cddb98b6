import { z } from 'zod';
import type { DestinationRow } from '../../../store/destinations.js';

/**
 * A channel of a workspace; the workspace's token is looked up at send (its installation or
 * SLACK_BOT_TOKEN). Ids are checked strictly at the edge (core/chat-ids.ts); a stored row needs them present.
 */
export const slackDestination = z.object({ type: z.literal('slack'), team: z.string().min(1), channel: z.string().min(1) });
export type SlackDestination = z.infer<typeof slackDestination>;

export const slackFromRow = (row: DestinationRow) => ({ type: 'slack', team: row.slackTeam, channel: row.slackChannel });
export const slackColumns = (d: SlackDestination) => ({ slackTeam: d.team, slackChannel: d.channel });
export const slackTargetKey = (d: SlackDestination) => `slack:${d.team}/${d.channel}`;
