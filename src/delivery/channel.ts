import type { MessageContent } from '../core/message.js';
import type { DestinationType } from '../../db/schema.js';
import type { Destination, DestinationOf } from './channels/destination.js';
import type { ThreadOps } from './lifecycle.js';

export type { Destination, DestinationOf } from './channels/destination.js';

export type ContentKind = MessageContent['kind'];
export type ContentOf<K extends ContentKind> = Extract<MessageContent, { kind: K }>;

/**
 * What the dispatcher lends a renderer: one cache for the whole process (a digest run renders the
 * same week's changes for thousands of destinations), bounded by the dispatcher. Renderers stay
 * pure: what they keep there is a function of its key.
 */
export interface RenderContext {
  cache: Map<string, string>;
}

/**
 * A channel's renderers: one per content kind it shows, each turning that content for a
 * destination into one or more messages (long digests split). The map is exhaustive over the
 * kinds the channel declares, so a kind it cannot show is a type error where the channel is
 * defined, never an empty message list at send time.
 */
export type Renderers<D, M, K extends ContentKind> = { readonly [k in K]: (content: ContentOf<k>, destination: D, ctx: RenderContext) => M[] };

/** Sends one rendered message; `key` is stable across retries of the same message part (a Message-ID, a webhook-id). */
export type Send<D, M> = (destination: D, message: M, key: string) => Promise<{ providerId: string | null }>;

/**
 * A channel (email, Slack, Discord, webhook) as the dispatcher sees it: renderers and a sender
 * over its own typed destination. Nothing else: a channel knows nothing of the outbox, and the
 * dispatcher nothing of the channel's API.
 */
export interface Channel<T extends DestinationType = DestinationType, M = any, K extends ContentKind = any> {
  readonly type: T;
  readonly render: Renderers<DestinationOf<T>, M, K>;
  readonly send: Send<DestinationOf<T>, M>;
  /** Chat channels: edit a message sent before and reply in its thread (follow-ups, src/core/lifecycle.ts). */
  readonly thread?: ThreadOps<DestinationOf<T>, M>;
  /** False when its alerts show no links (manage, unsubscribe, view, review): none are signed for them. */
  readonly alertLinks?: false;
  close?(): Promise<void>;
}

/** The channels an edition delivers, by destination type. */
export type ChannelSet = { [T in DestinationType]?: Channel<T> };
/**
 * A channel as the dispatcher drives it, whichever it is: the row's channel and its destination's
 * type are the same by construction (the outbox row's channel is its destination's type).
 */
export interface ChannelDriver {
  readonly type: DestinationType;
  readonly render: Partial<Record<ContentKind, (content: MessageContent, destination: Destination, ctx: RenderContext) => unknown[]>>;
  readonly send: (destination: Destination, message: unknown, key: string) => Promise<{ providerId: string | null }>;
  readonly thread?: ThreadOps<Destination, unknown>;
  readonly alertLinks?: false;
}

/** One of the channels, whichever. */
export type AnyChannel = { [T in DestinationType]: Channel<T> }[DestinationType];

export type FailureKind = 'retry' | 'permanent';

/**
 * Every failure is classified, as Alertmanager's notifiers do: `retry` (network, 5xx, 429, SMTP
 * 4xx) comes back later; `permanent` is not sent again, and with `disableDestination` the
 * destination itself is switched off (no such mailbox, channel gone, token revoked).
 */
export class DeliveryError extends Error {
  readonly kind: FailureKind;
  readonly retryAfterMs: number | undefined;
  readonly disableDestination: boolean;
  /** A provider's rate limit: wait and retry without counting it as a failed attempt. */
  readonly rateLimited: boolean;
  constructor(
    message: string,
    kind: FailureKind,
    opts: { retryAfterMs?: number; disableDestination?: boolean; rateLimited?: boolean; cause?: unknown } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = 'DeliveryError';
    this.kind = kind;
    this.retryAfterMs = opts.retryAfterMs;
    this.disableDestination = opts.disableDestination ?? false;
    this.rateLimited = opts.rateLimited ?? false;
  }
}
