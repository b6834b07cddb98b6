import { sql } from 'drizzle-orm';
import { index, integer, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

/**
 * ClauseWatch's tables. Times are integer milliseconds since the epoch (UTC) so SQL can compare
 * and the same schema runs on libSQL and D1. Every write that must happen once has a unique key
 * here (event id, match per event and destination, outbox idempotency key).
 */

const now = sql`(cast(unixepoch('subsec') * 1000 as integer))`;

export const settings = sqliteTable('settings', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
});

export const platforms = sqliteTable('platforms', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  slug: text('slug').notNull().unique(),
  name: text('name').notNull(),
  sector: text('sector'),
  createdAt: integer('created_at').notNull().default(now),
});

export const documents = sqliteTable(
  'documents',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    platformId: integer('platform_id')
      .notNull()
      .references(() => platforms.id),
    /** The producer's document id (e.g. CA-D-00013), once an event has named one. */
    externalId: text('external_id'),
    title: text('title').notNull(),
    /** lower(trim(title)): how a catalog entry and a producer's document find each other. */
    titleKey: text('title_key').notNull(),
    url: text('url'),
    kind: text('kind'),
    lastEventAt: integer('last_event_at'),
    lastVerifiedAt: integer('last_verified_at'),
    lastSha256: text('last_sha256'),
    /** Monitoring health: `ok`, or `stale` (silent past STALE_AFTER_HOURS) until news of it arrives. */
    health: text('health', { enum: ['ok', 'stale'] }).notNull().default('ok'),
    healthSince: integer('health_since'),
    /**
     * Set while the document flips between versions (more than 3 reversions inside
     * FLAP_WINDOW_HOURS): its further flips go to the digest only, until it is stable for a window.
     */
    flappingSince: integer('flapping_since'),
    createdAt: integer('created_at').notNull().default(now),
  },
  (t) => [
    uniqueIndex('documents_platform_title').on(t.platformId, t.titleKey),
    index('documents_platform_external').on(t.platformId, t.externalId),
  ],
);

export const events = sqliteTable(
  'events',
  {
    pk: integer('pk').primaryKey({ autoIncrement: true }),
    /** The producer's idempotency key. */
    id: text('id').notNull().unique(),
    platformId: integer('platform_id')
      .notNull()
      .references(() => platforms.id),
    documentId: integer('document_id')
      .notNull()
      .references(() => documents.id),
    severity: text('severity', { enum: ['low', 'medium', 'high'] }).notNull(),
    severityRank: integer('severity_rank').notNull(),
    kind: text('kind').notNull(),
    technicalUpgrade: integer('technical_upgrade', { mode: 'boolean' }).notNull().default(false),
    /** JSON array of category names. */
    categories: text('categories').notNull().default('[]'),
    title: text('title').notNull(),
    detectedAt: integer('detected_at').notNull(),
    effectiveAt: text('effective_at'),
    sha256: text('sha256'),
    previousSha256: text('previous_sha256'),
    /** Why the event alerts nobody, when it alerts nobody (first_recorded, technical_upgrade, backfill…). */
    suppressedReason: text('suppressed_reason'),
    /**
     * Set when the event returns its document to content it had within FLAP_WINDOW_HOURS: when that
     * version was first seen. Such an event is shown as a reversion at low severity.
     */
    revertsToAt: integer('reverts_to_at'),
    /** The event (id) this reversion undoes: both cancel out when they meet in one alert group. */
    undoesId: text('undoes_id'),
    /**
     * They did meet (the undone change still waited when this arrived): the pair never reached
     * anyone, so the version between them is left out of the document's history.
     */
    undoCancelled: integer('undo_cancelled', { mode: 'boolean' }).notNull().default(false),
    /** The event as received, canonical JSON (sorted keys, defaults applied): also the duplicate check. */
    payload: text('payload').notNull(),
    /** Which ingest request stored it: matching selects this request's events only. */
    ingestId: text('ingest_id').notNull(),
    receivedAt: integer('received_at').notNull(),
  },
  (t) => [
    index('events_platform_detected').on(t.platformId, t.detectedAt),
    index('events_detected').on(t.detectedAt),
    index('events_ingest').on(t.ingestId),
  ],
);

export const accounts = sqliteTable(
  'accounts',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    plan: text('plan', { enum: ['free', 'monitor'] }).notNull().default('free'),
    timezone: text('timezone').notNull().default('UTC'),
    digestWeekday: text('digest_weekday').notNull(),
    digestHour: integer('digest_hour').notNull(),
    reminderDays: integer('reminder_days').notNull().default(7),
    emptyDigest: integer('empty_digest', { mode: 'boolean' }).notNull().default(true),
    slackTeam: text('slack_team'),
    discordGuild: text('discord_guild'),
    /** The address a self-serve sign-up was made for: unique, so one address never gets two accounts. */
    signupAddress: text('signup_address'),
    /** How the account came to be: the admin API, a self-serve sign-up, a Slack or Discord command. */
    origin: text('origin', { enum: ['admin', 'signup', 'slack', 'discord'] }).notNull().default('admin'),
    createdAt: integer('created_at').notNull().default(now),
    updatedAt: integer('updated_at').notNull().default(now),
  },
  (t) => [
    uniqueIndex('accounts_slack_team').on(t.slackTeam),
    uniqueIndex('accounts_discord_guild').on(t.discordGuild),
    uniqueIndex('accounts_signup_address').on(t.signupAddress),
    // Digest ticks select accounts by their local schedule.
    index('accounts_digest_schedule').on(t.timezone, t.digestWeekday, t.digestHour),
  ],
);

export const DESTINATION_TYPES = ['email', 'slack', 'discord', 'webhook', 'teams'] as const;
export type DestinationType = (typeof DESTINATION_TYPES)[number];

export const destinations = sqliteTable(
  'destinations',
  {
    id: text('id').primaryKey(),
    accountId: text('account_id')
      .notNull()
      .references(() => accounts.id),
    type: text('type', { enum: DESTINATION_TYPES }).notNull(),
    /** `email:a@b.c`, `slack:T/C`, `discord:G/C`, `discord-webhook:<url>`, `webhook:<url>`, `teams:<url>`: one per account. */
    targetKey: text('target_key').notNull(),
    address: text('address'),
    slackTeam: text('slack_team'),
    slackChannel: text('slack_channel'),
    discordGuild: text('discord_guild'),
    discordChannel: text('discord_channel'),
    url: text('url'),
    /** Standard Webhooks signing secret (whsec_…) of a webhook destination. */
    secret: text('secret'),
    /** The secret before the last rotation, still signing beside the new one until previous_secret_until. */
    previousSecret: text('previous_secret'),
    previousSecretUntil: integer('previous_secret_until'),
    /** `active` receives; `unconfirmed` waits for double opt-in; `disabled` was refused by its provider or unsubscribed. */
    status: text('status', { enum: ['active', 'unconfirmed', 'disabled'] }).notNull(),
    disabledReason: text('disabled_reason'),
    disabledAt: integer('disabled_at'),
    confirmedAt: integer('confirmed_at'),
    createdAt: integer('created_at').notNull().default(now),
  },
  (t) => [
    uniqueIndex('destinations_account_target').on(t.accountId, t.targetKey),
    index('destinations_address').on(t.address),
    index('destinations_account').on(t.accountId, t.status),
  ],
);

export const subscriptions = sqliteTable(
  'subscriptions',
  {
    id: text('id').primaryKey(),
    accountId: text('account_id')
      .notNull()
      .references(() => accounts.id),
    destinationId: text('destination_id')
      .notNull()
      .references(() => destinations.id),
    platformId: integer('platform_id')
      .notNull()
      .references(() => platforms.id),
    minSeverityRank: integer('min_severity_rank').notNull().default(1),
    /** JSON array; NULL means every category. */
    categories: text('categories'),
    /** `paused` only by a plan downgrade; an upgrade resumes it. */
    status: text('status', { enum: ['active', 'paused'] }).notNull().default('active'),
    /**
     * Copies of the destination's `status = 'active'` and of the account plan's same-day alerts,
     * kept in step by the store functions that change either. Matching then reads subscriptions
     * alone: joining 100,000 destinations and accounts by text id cost a third of the time.
     */
    destinationActive: integer('destination_active', { mode: 'boolean' }).notNull().default(true),
    sameDayAlerts: integer('same_day_alerts', { mode: 'boolean' }).notNull().default(false),
    createdAt: integer('created_at').notNull().default(now),
  },
  (t) => [
    uniqueIndex('subscriptions_destination_platform').on(t.destinationId, t.platformId),
    // Covers everything matching reads, so a fan-out never leaves the index for the table.
    index('subscriptions_matching').on(
      t.platformId,
      t.status,
      t.destinationActive,
      t.minSeverityRank,
      t.sameDayAlerts,
      t.destinationId,
      t.categories,
    ),
    index('subscriptions_account').on(t.accountId),
  ],
);

/**
 * The active subscriptions (status `active`, destination active) counted by what matching decides
 * on: platform, minimum severity, same-day alerts, categories. Every subscriber of a group gets the
 * same decision for an event without reversions (src/ingest/match.ts), so matching decides once
 * per group and the request's tally sums `subscribers`. Kept by triggers on `subscriptions`
 * (migration 0008), so no write path can leave it behind (REPLACE aside, which src/ never
 * uses on it: its deletions fire no trigger); rows whose count falls to 0 stay (a
 * group's id never changes meaning). Grouping every active subscription of a batch's platforms
 * at each ingest, twice, was a tenth of a 500-event POST's SQL.
 */
export const subscriberGroups = sqliteTable(
  'subscriber_groups',
  {
    id: integer('id').primaryKey(),
    platformId: integer('platform_id').notNull(),
    minSeverityRank: integer('min_severity_rank').notNull(),
    sameDayAlerts: integer('same_day_alerts', { mode: 'boolean' }).notNull(),
    /** JSON array as the subscriptions store it; NULL means every category. */
    categories: text('categories'),
    subscribers: integer('subscribers').notNull(),
  },
  // NULL categories (every category) is one group: a plain unique key would let NULLs repeat. The
  // key tells NULL from every text (coalesce alone would fold '' into it), as matching's `IS` does.
  (t) => [uniqueIndex('subscriber_groups_key').on(t.platformId, t.minSeverityRank, t.sameDayAlerts, sql`${t.categories} IS NULL`, sql`coalesce(${t.categories}, '')`)],
);

/**
 * One row per (event, destination) decision of the delivery policy (src/core/policy.ts): every
 * active subscriber of the event's platform gets one, unless the event reaches nobody at all
 * (its own `suppressed_reason` says why). `suppressed_reason` is the decision: NULL for a
 * same-day alert, else a reason of the policy. `alert_state` is its alert delivery: `pending`
 * until the dispatcher groups it into an outbox message (`grouped`, with `outbox_id`), `none`
 * when a reason keeps it from alerts. `digest_state` is its digest delivery: `pending` until a
 * digest lists it (`listed`, with `digest_outbox_id`), `none` when it belongs in no digest.
 * Rows are kept narrow and lightly indexed: a fan-out writes 100,000 of them inside the ingest
 * request.
 */
export const matches = sqliteTable(
  'matches',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    // The event (events.pk), with no foreign key: matching writes every row from the event it
    // reads in the same statement, and events are never deleted, so the constraint could only
    // fail on a bug, while its parent look-up per row was a quarter of the 31,000-row INSERT.
    eventPk: integer('event_pk').notNull(),
    destinationId: text('destination_id').notNull(),
    alertState: text('alert_state', { enum: ['pending', 'grouped', 'none'] }).notNull(),
    suppressedReason: text('suppressed_reason'),
    outboxId: integer('outbox_id'),
    digestState: text('digest_state', { enum: ['pending', 'listed', 'none'] }).notNull().default('none'),
    /** The digest (outbox id) that told the destination of it. */
    digestOutboxId: integer('digest_outbox_id'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [
    uniqueIndex('matches_event_destination').on(t.eventPk, t.destinationId),
    // No index by destination: a decision row would land at a random place in it (a third of a
    // 500-event ingest's time). A digest finds its destination's untold decisions from its
    // subscriptions' platforms' events through matches_event_destination (src/schedule/digests.ts).
    index('matches_digest')
      .on(t.digestOutboxId)
      .where(sql`digest_outbox_id IS NOT NULL`),
    // No index of the alerts waiting to be grouped either (each of a fan-out's rows went into it):
    // grouping finds them from the events in alerts_waiting, through matches_event_destination.
    index('matches_outbox')
      .on(t.outboxId)
      .where(sql`outbox_id IS NOT NULL`),
  ],
);

/**
 * Decisions made for a whole subscriber group, waiting to be settled onto its members as `matches`
 * rows: one row per (event, group) where a `matches` row per destination was written inside the
 * ingest request (about 1,500 rows of a 500-event batch instead of 31,000, the request's largest
 * write). Only batches whose decisions depend on nothing but the event and the group go here: no
 * reversion (what each destination heard matters), no outage notice (their pairs cancel per
 * destination in the same request) and no change that could follow up a chat alert (threaded per
 * destination in the request); those settle this queue first and write their own rows.
 * Settled (src/ingest/settle.ts, through the view `decisions_settling` of migration 0009) by the
 * dispatcher before it groups, by digests, reminders and the events listing before they read
 * decisions, by every withdrawal before it withdraws, and, so that a group's members are the ones
 * it had when the decision was made, by a trigger before any change to `subscriptions`.
 */
export const decisionsUnsettled = sqliteTable(
  'decisions_unsettled',
  {
    id: integer('id').primaryKey(),
    eventPk: integer('event_pk').notNull(),
    platformId: integer('platform_id').notNull(),
    minSeverityRank: integer('min_severity_rank').notNull(),
    sameDayAlerts: integer('same_day_alerts', { mode: 'boolean' }).notNull(),
    categories: text('categories'),
    alertState: text('alert_state', { enum: ['pending', 'none'] }).notNull(),
    suppressedReason: text('suppressed_reason'),
    digestState: text('digest_state', { enum: ['pending', 'none'] }).notNull(),
    createdAt: integer('created_at').notNull(),
  },
  // Filing an event as waiting asks whether it has a pending group decision.
  (t) => [index('decisions_unsettled_event').on(t.eventPk)],
);

/**
 * The events that have decisions waiting to be grouped into alerts (`matches.alert_state =
 * 'pending'`), with when those decisions were made: one row per event where an index of the
 * waiting decisions took one per decision (31,000 for a 500-event batch). Written by matching
 * in the ingest's batch for each event it gave a waiting decision; a row whose event has none
 * left (grouped, cancelled, withdrawn) is removed by the next grouping pass, and until then only
 * costs a look at its event's decisions (src/delivery/grouping.ts).
 */
export const alertsWaiting = sqliteTable('alerts_waiting', {
  eventPk: integer('event_pk').primaryKey(),
  since: integer('since').notNull(),
});

/** `follow_up`: a reversion or superseding change threaded under the chat alert it follows up (src/core/lifecycle.ts). */
export const OUTBOX_KINDS = ['alert', 'digest', 'confirmation', 'manage_link', 'reminder', 'notice', 'budget', 'follow_up'] as const;
export type OutboxKind = (typeof OUTBOX_KINDS)[number];
export const OUTBOX_STATUSES = ['queued', 'sending', 'retrying', 'sent', 'dead', 'cancelled'] as const;
export type OutboxStatus = (typeof OUTBOX_STATUSES)[number];

/**
 * Every message to send, written before any network call. A dispatcher claims due rows with a
 * lease (one UPDATE … RETURNING), so two dispatchers never send one row twice and a crashed
 * dispatcher's rows come back when the lease runs out.
 */
export const outbox = sqliteTable(
  'outbox',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    /** alert:<dest>:<first match id>, digest:<dest>:<period>, …: the once-only key. */
    idempotencyKey: text('idempotency_key').notNull().unique(),
    kind: text('kind', { enum: OUTBOX_KINDS }).notNull(),
    destinationId: text('destination_id').notNull(),
    accountId: text('account_id').notNull(),
    channel: text('channel', { enum: DESTINATION_TYPES }).notNull(),
    /** queued → sending (leased) → sent | retrying → … | dead; cancelled when its destination went away. */
    status: text('status', { enum: OUTBOX_STATUSES }).notNull(),
    /** What to render, for kinds that are not built from matches (digest period, confirmation link…). */
    payload: text('payload'),
    dueAt: integer('due_at').notNull(),
    attempts: integer('attempts').notNull().default(0),
    /** Parts of a split message already delivered: a retry resumes after them, never repeats them. */
    partsSent: integer('parts_sent').notNull().default(0),
    leaseOwner: text('lease_owner'),
    leaseUntil: integer('lease_until'),
    lastError: text('last_error'),
    /**
     * The provider's id of the message (Slack ts, Discord message id, Message-ID): a follow-up
     * edits and replies to the message of the alert it follows up through it. For a split message,
     * its last part's.
     */
    providerId: text('provider_id'),
    sentAt: integer('sent_at'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    index('outbox_due').on(t.status, t.dueAt),
    index('outbox_destination').on(t.destinationId, t.createdAt),
    index('outbox_account').on(t.accountId, t.id),
    // A chat destination's recent messages about documents: where a follow-up looks for the alert
    // still the latest word (src/core/lifecycle.ts). Partial, so email and webhook rows never pay
    // for it, and ingest's "is there any such message at all" is one probe.
    index('outbox_chat_words')
      .on(t.destinationId, t.createdAt)
      .where(sql`kind IN ('alert', 'budget', 'follow_up') AND channel IN ('slack', 'discord')`),
  ],
);

/** Fixed-window counters (sign-ups per client address per hour), shared by every instance. */
export const rateLimits = sqliteTable('rate_limits', {
  key: text('key').primaryKey(),
  count: integer('count').notNull(),
  expiresAt: integer('expires_at').notNull(),
});

/** Slack workspaces that installed the app through OAuth: the bot token to post with, per workspace. */
export const slackInstallations = sqliteTable('slack_installations', {
  teamId: text('team_id').primaryKey(),
  teamName: text('team_name'),
  botToken: text('bot_token').notNull(),
  botUserId: text('bot_user_id'),
  botId: text('bot_id'),
  /** The whole installation as @slack/oauth returns it (scopes, installer, app id). */
  installation: text('installation').notNull(),
  installedAt: integer('installed_at').notNull(),
});

export const REVIEW_STATUSES = ['open', 'reviewed', 'not_applicable', 'assigned'] as const;
export type ReviewStatus = (typeof REVIEW_STATUSES)[number];
export const REVIEW_SOURCES = ['slack', 'discord', 'page'] as const;
export type ReviewSource = (typeof REVIEW_SOURCES)[number];

/**
 * The review trail (src/core/review.ts has its rules): every decision about a change an account
 * was alerted to, one row each, append-only. Nothing updates or deletes a row: the review of
 * (account, change) is its latest row (highest id), and a change without rows is `open`. Two
 * decisions at once are both kept, in the order the database wrote them.
 */
export const reviewHistory = sqliteTable(
  'review_history',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    accountId: text('account_id')
      .notNull()
      .references(() => accounts.id),
    eventPk: integer('event_pk')
      .notNull()
      .references(() => events.pk),
    status: text('status', { enum: REVIEW_STATUSES }).notNull(),
    /** Where the decision was made: a Slack or Discord button, or the email's review page. */
    source: text('source', { enum: REVIEW_SOURCES }).notNull(),
    /** The destination whose message or link it was made from. */
    destinationId: text('destination_id'),
    /** Slack or Discord user id; NULL on the review page (no login: the name typed is all there is). */
    actorId: text('actor_id'),
    actorName: text('actor_name').notNull(),
    /** An assignment's assignee (Slack or Discord user id, and the name shown). */
    assigneeId: text('assignee_id'),
    assigneeName: text('assignee_name'),
    reason: text('reason'),
    decidedAt: integer('decided_at').notNull(),
  },
  (t) => [index('review_history_change').on(t.accountId, t.eventPk, t.id)],
);
