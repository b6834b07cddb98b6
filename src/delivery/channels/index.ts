import type { Config } from '../../config.js';
import type { Clock } from '../../core/clock.js';
import type { EmailTemplates } from '../../render/template.js';
import type { SecretBox } from '../../secret-box.js';
import type { AnyChannel, ChannelSet } from '../channel.js';
import { createEmailChannel, type Mailer } from './email/send.js';
import { createSlackChannel } from './slack/send.js';
import { createDiscordChannel } from './discord/send.js';
import { createWebhookChannel, type WebhookHmac, type WebhookPost } from './webhook/send.js';
import { createTeamsChannel } from './teams/send.js';

type Fetch = (url: string, init: RequestInit) => Promise<Response>;

/**
 * What an edition (Node or Workers) hands its channels: the parts that differ between them (how
 * mail leaves, which HTTP client, where Slack tokens come from). Everything else each channel
 * takes from the configuration itself.
 */
export interface ChannelWiring {
  config: Config;
  /** The service's clock: webhook timestamps, a rotated secret's last day. */
  clock: Clock;
  /** Elapsed real time, for pacing requests to a provider's rate (a test's fixed clock stands still). */
  pacingClock: Clock;
  templates: EmailTemplates;
  /** How mail leaves; without one, email is not delivered here. */
  mail?: { mailer: Mailer; close?: () => Promise<void> };
  /** Slack's bot token for a workspace; without it (Slack not configured), Slack is not delivered here. */
  slack?: { tokenFor: (team: string) => Promise<string | undefined>; fetch?: Fetch };
  /** The HTTP client of the SDK-based channels (Discord) on Workers; Node's default otherwise. */
  fetch?: Fetch;
  /** POSTs to URLs a person gave us: on Node guarded against private addresses on every connection. */
  post: WebhookPost;
  hmac?: WebhookHmac;
  webhookSecrets: SecretBox;
}

/**
 * Every channel ClauseWatch has, in one list: each edition registers from it the channels it can
 * deliver (`undefined`: not configured here), in this order (the order a refusal lists them in).
 * A new channel is one folder and one line here.
 */
export const CHANNELS: readonly ((w: ChannelWiring) => AnyChannel | undefined)[] = [
  // Webhook destinations need no bot: Discord channel webhooks are delivered even without one.
  (w) => createDiscordChannel({ botToken: w.config.discord?.botToken, apiUrl: w.config.discord?.apiUrl, fetch: w.fetch }),
  (w) => createWebhookChannel({ clock: w.clock, post: w.post, hmac: w.hmac, secrets: w.webhookSecrets }),
  (w) => w.mail && createEmailChannel({ mailer: w.mail.mailer, close: w.mail.close, templates: w.templates, messageIdDomain: new URL(w.config.publicUrl).hostname }),
  (w) =>
    w.config.slack && w.slack
      ? createSlackChannel({ clock: w.pacingClock, apiUrl: w.config.slack.apiUrl, tokenFor: w.slack.tokenFor, sharedToken: w.config.slack.botToken, fetch: w.slack.fetch })
      : undefined,
  (w) => createTeamsChannel({ clock: w.pacingClock, post: w.post }),
];

export function createChannels(w: ChannelWiring): ChannelSet {
  const set: Record<string, AnyChannel> = {};
  for (const make of CHANNELS) {
    const channel = make(w);
    if (channel) set[channel.type] = channel;
  }
  return set as ChannelSet;
}
