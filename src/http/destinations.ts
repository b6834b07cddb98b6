import { z } from 'zod';
import type { AppDeps } from './deps.js';
import { readJsonBody } from './body.js';
import { ApiError, invalid, notFound, parseOrThrow } from './errors.js';
import { accountOr404 } from './accounts.js';
import { createDestination, deleteDestination, getDestination, listDestinations, rotateWebhookSecret, type DestinationRow, type DestinationTarget } from '../store/destinations.js';
import { newWebhookSecret } from '../core/webhook-secret.js';
import { createSecretBox, SECRET_PURPOSES } from '../secret-box.js';
import { chatOffSentence } from './chat-setup.js';
import { teamsWebhookRefusal } from '../delivery/channels/teams/destination.js';
import { discordChannelId, discordGuildId, slackChannelId, slackTeamId } from '../core/chat-ids.js';
import { DESTINATION_TYPES } from '../../db/schema.js';
import { adminAuth, defineRoute, describedRoute, describedRoutes, errors, json, jsonBody, listOf, pathParams } from './openapi.js';

const DISCORD_WEBHOOK = /^https:\/\/(?:(?:canary|ptb)\.)?discord(?:app)?\.com\/api(?:\/v\d+)?\/webhooks\/(\d{5,25})\/([A-Za-z0-9_-]{20,200})$/;

const httpsUrl = (allowHttp: boolean) =>
  z.string().max(2048, 'at most 2,048 characters').refine((v) => {
    try {
      const u = new URL(v);
      return u.protocol === 'https:' || (allowHttp && u.protocol === 'http:');
    } catch {
      return false;
    }
  }, allowHttp ? 'an absolute http(s) URL' : 'an absolute https:// URL');

function destinationBody(allowHttpWebhooks: boolean) {
  return z.discriminatedUnion(
    'type',
    [
      z.strictObject({ type: z.literal('email'), address: z.email('an email address such as legal@example.com').max(254) }),
      z.strictObject({
        type: z.literal('slack'),
        team: slackTeamId,
        channel: slackChannelId,
      }),
      z
        .strictObject({
          type: z.literal('discord'),
          guild: discordGuildId.optional(),
          channel: discordChannelId.optional(),
          webhook_url: z
            .string()
            .regex(DISCORD_WEBHOOK, 'a Discord webhook URL such as https://discord.com/api/webhooks/<id>/<token>')
            .optional(),
        })
        .superRefine((b, ctx) => {
          if (b.webhook_url && (b.guild || b.channel)) {
            ctx.addIssue({ code: 'custom', path: ['webhook_url'], message: 'either webhook_url, or guild and channel, not both' });
          } else if (!b.webhook_url) {
            if (!b.guild) ctx.addIssue({ code: 'custom', path: ['guild'], message: 'is required (or give webhook_url)' });
            if (!b.channel) ctx.addIssue({ code: 'custom', path: ['channel'], message: 'is required (or give webhook_url)' });
          }
        }),
      z.strictObject({ type: z.literal('webhook'), url: httpsUrl(allowHttpWebhooks) }),
      z.strictObject({
        type: z.literal('teams'),
        // A Teams channel's Workflows webhook; WEBHOOK_ALLOW_PRIVATE=true lifts the host check (tests, local use).
        webhook_url: z
          .string()
          .max(2048, 'at most 2,048 characters')
          .superRefine((v, ctx) => {
            const refused = teamsWebhookRefusal(v, allowHttpWebhooks);
            if (refused) ctx.addIssue({ code: 'custom', message: refused });
          }),
      }),
    ],
    { error: 'type must be one of email, slack, discord, webhook, teams' },
  );
}

/** A destination as answers show it: the type's fields (webhook_url without its token), never a stored secret. */
const destinationSchema = z
  .object({
    id: z.string(),
    account_id: z.string(),
    type: z.enum(DESTINATION_TYPES),
    address: z.string().nullable().optional().meta({ description: 'email' }),
    team: z.string().nullable().optional().meta({ description: 'slack: the workspace' }),
    guild: z.string().nullable().optional().meta({ description: 'discord: the server' }),
    channel: z.string().nullable().optional().meta({ description: 'slack or discord' }),
    webhook_url: z.string().nullable().optional().meta({ description: 'discord: the channel webhook, its token left out; teams: the Workflows webhook, its sig query left out' }),
    url: z.string().nullable().optional().meta({ description: 'webhook' }),
    secret: z.string().optional().meta({ description: 'webhook: the signing secret (whsec_…), in the answer that made it only' }),
    status: z.enum(['active', 'unconfirmed', 'disabled']),
    disabled_reason: z.string().nullable(),
    created_at: z.string().meta({ format: 'date-time' }),
  })
  .meta({ id: 'Destination' });

export function destinationJson(d: DestinationRow) {
  const target =
    d.type === 'email'
      ? { address: d.address }
      : d.type === 'slack'
        ? { team: d.slackTeam, channel: d.slackChannel }
        : d.type === 'discord'
          ? d.url
            ? { webhook_url: d.url.replace(/\/[^/]+$/, '/…') }
            : { guild: d.discordGuild, channel: d.discordChannel }
          : d.type === 'teams'
            ? // The query's signature is what lets anyone post to the channel: never shown again.
              { webhook_url: d.url?.replace(/\?.*$/, '?…') }
            : { url: d.url };
  return {
    id: d.id,
    account_id: d.accountId,
    type: d.type,
    ...target,
    status: d.status,
    disabled_reason: d.disabledReason,
    created_at: new Date(d.createdAt).toISOString(),
  };
}

export function destinationRoutes(deps: AppDeps) {
  // Signing secrets are stored sealed; the answer shows the plain one once, when it is made.
  const webhookSecrets = createSecretBox(deps.config.secretKey, SECRET_PURPOSES.webhookSecret);
  const app = describedRoutes();
  const schema = destinationBody(deps.config.webhookAllowPrivate);
  const destination = json('The destination; a webhook’s `secret` (whsec_…) is shown here once, when it is made', destinationSchema);
  const ids = pathParams({ id: 'The account id (acc_…)', destId: 'The destination id (dst_…)' });
  const createRoute = defineRoute({
    method: 'post',
    path: '/',
    tags: ['Destinations'],
    summary: 'Add a destination: an email address, a Slack, Discord or Teams channel, or a webhook',
    description: 'Active at once (an admin vouches for it). Adding one that exists answers 200 with it.',
    security: adminAuth,
    request: { params: pathParams({ id: 'The account id (acc_…)' }), body: jsonBody(schema) },
    responses: { 201: destination, 200: destination, ...errors(400, 401, 404, 413, 415) },
  });
  const listRoute = defineRoute({
    method: 'get',
    path: '/',
    tags: ['Destinations'],
    summary: 'The account’s destinations',
    security: adminAuth,
    request: { params: pathParams({ id: 'The account id (acc_…)' }) },
    responses: { 200: json('Every destination of the account (one page)', listOf(destinationSchema)), ...errors(401, 404) },
  });
  const rotateRoute = defineRoute({
    method: 'post',
    path: '/{destId}/rotate-secret',
    tags: ['Destinations'],
    summary: 'A webhook’s new signing secret, shown once; the old one keeps signing beside it for 24 hours',
    security: adminAuth,
    request: { params: ids },
    responses: {
      200: json('The destination with its new `secret` and when the previous one stops signing', destinationSchema.extend({ secret: z.string(), previous_secret_valid_until: z.string().meta({ format: 'date-time' }) })),
      ...errors(400, 401, 404),
    },
  });
  const deleteRoute = defineRoute({
    method: 'delete',
    path: '/{destId}',
    tags: ['Destinations'],
    summary: 'Remove a destination',
    security: adminAuth,
    request: { params: ids },
    responses: { 204: { description: 'Removed' }, ...errors(401, 404) },
  });

  describedRoute(app, createRoute, async (c) => {
    const account = await accountOr404(deps, c.req.param('id')!);
    const b = parseOrThrow(schema, await readJsonBody(c, 'invalid_destination'), 'invalid_destination');
    if (deps.channels && !deps.channels.includes(b.type)) {
      throw invalid('invalid_destination', [{ path: 'type', message: `${b.type} is not delivered by this server (it delivers ${deps.channels.join(', ')})` }], 'destination');
    }
    // A bot destination while its bot is off would be stored `active` and then retried for hours.
    if ((b.type === 'slack' || (b.type === 'discord' && !b.webhook_url)) && !deps.config.chat[b.type]) {
      throw new ApiError(400, 'invalid_destination', `The destination is invalid. ${chatOffSentence(b.type)}`, {
        issues: [{ path: 'type', message: `${b.type}: ${chatOffSentence(b.type)}` }],
      });
    }
    const target: DestinationTarget =
      b.type === 'discord'
        ? b.webhook_url
          ? { type: 'discord', webhookUrl: b.webhook_url }
          : { type: 'discord', guild: b.guild!, channel: b.channel! }
        : b.type === 'teams'
          ? { type: 'teams', webhookUrl: b.webhook_url }
          : b;
    if (b.type === 'webhook' || b.type === 'teams') {
      const [path, url] = b.type === 'webhook' ? ['url', b.url] : ['webhook_url', b.webhook_url];
      const refused = await deps.checkWebhookUrl?.(url);
      if (refused) throw invalid('invalid_destination', [{ path, message: `not allowed: ${refused}` }], 'destination');
    }
    const secret = b.type === 'webhook' ? newWebhookSecret() : undefined;
    // An admin vouches for the address, so even email is active at once (no double opt-in).
    const { destination, created } = await createDestination(deps.db, deps.clock, account.id, target, 'active', { secret: secret && (await webhookSecrets.seal(secret)) });
    if (created) deps.log.info('destination.created', { accountId: account.id, destinationId: destination.id, type: destination.type });
    const body = destinationJson(destination);
    // The signing secret is shown once, when it is made; it is never listed again.
    return c.json(created && secret ? { ...body, secret } : body, created ? 201 : 200);
  });

  describedRoute(app, listRoute, async (c) => {
    const account = await accountOr404(deps, c.req.param('id')!);
    const rows = await listDestinations(deps.db, account.id);
    return c.json({ data: rows.map(destinationJson), next_cursor: null });
  });

  // A new signing secret, shown once; the old one keeps signing beside it for 24 hours.
  describedRoute(app, rotateRoute, async (c) => {
    const account = await accountOr404(deps, c.req.param('id')!);
    const d = await getDestination(deps.db, account.id, c.req.param('destId'));
    if (!d) throw notFound('destination', c.req.param('destId'));
    if (d.type !== 'webhook') throw new ApiError(400, 'not_a_webhook', 'Only webhook destinations have a signing secret.');
    const secret = newWebhookSecret();
    const until = deps.clock() + 24 * 3_600_000;
    await rotateWebhookSecret(deps.db, d.id, await webhookSecrets.seal(secret), until);
    deps.log.info('destination.secret_rotated', { destinationId: d.id });
    return c.json({ ...destinationJson(d), secret, previous_secret_valid_until: new Date(until).toISOString() });
  });

  describedRoute(app, deleteRoute, async (c) => {
    const account = await accountOr404(deps, c.req.param('id')!);
    const ok = await deleteDestination(deps.db, deps.clock, account.id, c.req.param('destId'));
    if (!ok) throw notFound('destination', c.req.param('destId'), `List the account's destinations with GET /v1/accounts/${account.id}/destinations.`);
    return c.body(null, 204);
  });

  return app;
}
