import type { DestinationRow } from '../store/destinations.js';
import type { MessageContent } from '../core/message.js';
import type { DestinationType } from '../../db/schema.js';

/**
 * A channel (email, Slack, Discord, webhook) as the dispatcher sees it: render content for a
 * destination into one or more messages (long digests split), and send one message. Nothing
 * else: a channel knows nothing of the outbox, and the dispatcher nothing of the channel's API.
 */
export interface ChannelAdapter<M = unknown> {
  readonly type: DestinationType;
  render(content: MessageContent, destination: DestinationRow): M[];
  send(destination: DestinationRow, message: M, ctx: SendContext): Promise<{ providerId: string | null }>;
  close?(): Promise<void>;
}

export interface SendContext {
  /** Stable across retries of the same message part: a Message-ID, a webhook-id. */
  messageKey: string;
  outboxId: number;
  kind: string;
}

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
