import { eq } from 'drizzle-orm';
import type { Installation, InstallationQuery, InstallationStore } from '@slack/oauth';
import type { Db } from '../db.js';
import type { Clock } from '../core/clock.js';
import { slackInstallations } from '../../db/schema.js';

/** @slack/oauth's installation store, in the database: one row per workspace. */
export function createSlackInstallationStore(db: Db, clock: Clock): InstallationStore & { tokenFor(team: string): Promise<string | undefined> } {
  return {
    async storeInstallation(installation: Installation) {
      const teamId = installation.team?.id;
      if (!teamId || !installation.bot?.token) throw new Error('Slack installation without a workspace or a bot token (org-wide installs are not supported)');
      const row = {
        teamId,
        teamName: installation.team?.name ?? null,
        botToken: installation.bot.token,
        botUserId: installation.bot.userId ?? null,
        botId: installation.bot.id ?? null,
        installation: JSON.stringify(installation),
        installedAt: clock(),
      };
      await db.insert(slackInstallations).values(row).onConflictDoUpdate({ target: slackInstallations.teamId, set: row });
    },
    async fetchInstallation(query: InstallationQuery<boolean>) {
      const row = query.teamId ? await db.query.slackInstallations.findFirst({ where: eq(slackInstallations.teamId, query.teamId) }) : undefined;
      if (!row) throw new Error(`no Slack installation for workspace ${query.teamId}`);
      return JSON.parse(row.installation) as Installation;
    },
    async deleteInstallation(query: InstallationQuery<boolean>) {
      if (query.teamId) await db.delete(slackInstallations).where(eq(slackInstallations.teamId, query.teamId));
    },
    async tokenFor(team: string) {
      const row = await db.query.slackInstallations.findFirst({ where: eq(slackInstallations.teamId, team) });
      return row?.botToken;
    },
  };
}
