import { eq, sql } from 'drizzle-orm';
import type { Installation, InstallationQuery, InstallationStore } from '@slack/oauth';
import type { Db } from '../db.js';
import type { Clock } from '../core/clock.js';
import { slackInstallations } from '../../db/schema.js';
import { SEALED_PREFIX, type SecretBox } from '../secret-box.js';

/**
 * @slack/oauth's installation store, in the database: one row per workspace, its bot token and
 * the installation (which holds the token too) sealed by `box`.
 */
export function createSlackInstallationStore(db: Db, clock: Clock, box: SecretBox): InstallationStore & { tokenFor(team: string): Promise<string | undefined> } {
  return {
    async storeInstallation(installation: Installation) {
      const teamId = installation.team?.id;
      if (!teamId || !installation.bot?.token) throw new Error('Slack installation without a workspace or a bot token (org-wide installs are not supported)');
      const row = {
        teamId,
        teamName: installation.team?.name ?? null,
        botToken: await box.seal(installation.bot.token),
        botUserId: installation.bot.userId ?? null,
        botId: installation.bot.id ?? null,
        installation: await box.seal(JSON.stringify(installation)),
        installedAt: clock(),
      };
      await db.insert(slackInstallations).values(row).onConflictDoUpdate({ target: slackInstallations.teamId, set: row });
    },
    async fetchInstallation(query: InstallationQuery<boolean>) {
      const row = query.teamId ? await db.query.slackInstallations.findFirst({ where: eq(slackInstallations.teamId, query.teamId) }) : undefined;
      if (!row) throw new Error(`no Slack installation for workspace ${query.teamId}`);
      return JSON.parse(await box.open(row.installation)) as Installation;
    },
    async deleteInstallation(query: InstallationQuery<boolean>) {
      if (query.teamId) await db.delete(slackInstallations).where(eq(slackInstallations.teamId, query.teamId));
    },
    async tokenFor(team: string) {
      const row = await db.query.slackInstallations.findFirst({ where: eq(slackInstallations.teamId, team) });
      return row ? box.open(row.botToken) : undefined;
    },
  };
}

/** Seals the installations stored in plain text before tokens were sealed (at start; idempotent). */
export async function sealPlaintextInstallations(db: Db, box: SecretBox): Promise<number> {
  const rows = (await db.select().from(slackInstallations)).filter((r) => !r.botToken.startsWith(SEALED_PREFIX) || !r.installation.startsWith(SEALED_PREFIX));
  if (!rows.length) return 0;
  // SQLite keeps a rewritten row's old bytes in the page unless told to overwrite them.
  await db.run(sql`PRAGMA secure_delete = ON`);
  let sealed = 0;
  for (const r of rows) {
    await db
      .update(slackInstallations)
      .set({ botToken: await box.seal(await box.open(r.botToken)), installation: await box.seal(await box.open(r.installation)) })
      .where(eq(slackInstallations.teamId, r.teamId));
    sealed++;
  }
  await db.run(sql`PRAGMA secure_delete = OFF`);
  return sealed;
}
