import { z } from 'zod';
import type { DestinationRow } from '../../../store/destinations.js';

/**
 * The hosts of Teams' Workflows webhooks ("When a Teams webhook request is received"): Power
 * Automate / Logic Apps and the old connector domain. Checked by suffix on the parsed host, so
 * `logic.azure.com.example.net` or `evil-logic.azure.com` never pass.
 */
export const TEAMS_WEBHOOK_HOSTS = ['logic.azure.com', 'powerplatform.com', 'webhook.office.com'] as const;

/**
 * Why a URL cannot be a Teams webhook, or null. `allowAnyHost` (WEBHOOK_ALLOW_PRIVATE=true) lifts
 * the host check and allows http, for tests and local use, as it lifts the private-address guard.
 */
export function teamsWebhookRefusal(url: string, allowAnyHost: boolean): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'an absolute https:// URL of a Teams Workflows webhook';
  }
  if (allowAnyHost) return u.protocol === 'https:' || u.protocol === 'http:' ? null : 'an http(s) URL';
  if (u.protocol !== 'https:') return 'an https:// URL';
  if (u.username || u.password) return 'a URL without a user name or password';
  const host = u.hostname.toLowerCase();
  if (!TEAMS_WEBHOOK_HOSTS.some((h) => host.endsWith(`.${h}`))) {
    return `a Teams Workflows webhook URL, on a host under ${TEAMS_WEBHOOK_HOSTS.join(', ')}`;
  }
  return null;
}

/** A Teams channel's Workflows webhook URL (its signature in the query is the only secret). */
export const teamsDestination = z.object({ type: z.literal('teams'), webhookUrl: z.string().min(1) });
export type TeamsDestination = z.infer<typeof teamsDestination>;

export const teamsFromRow = (row: DestinationRow) => ({ type: 'teams', webhookUrl: row.url });
export const teamsColumns = (d: TeamsDestination) => ({ url: d.webhookUrl });
export const teamsTargetKey = (d: TeamsDestination) => `teams:${d.webhookUrl}`;
