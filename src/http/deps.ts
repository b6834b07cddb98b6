import type { Db } from '../db.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../log.js';
import type { Weekday } from '../core/schedule-time.js';
import type { LinkSigner } from '../links.js';
import type { Metrics } from '../metrics.js';
import type { Context } from 'hono';
import type { EmailTemplates } from '../render/template.js';
import type { DestinationType } from '../../db/schema.js';
import type { DocsAsset } from './docs.js';

/** What the HTTP app needs from the outside; main.ts (Node) or worker.ts (Workers) hands it in. */
export interface AppDeps {
  db: Db;
  clock: Clock;
  log: Logger;
  config: {
    publicUrl: string;
    ingestTokens: readonly string[];
    adminTokens: readonly string[];
    secretKey: string;
    alertGroupWaitSeconds: number;
    alertMaxAgeHours: number;
    flapWindowHours: number;
    digest: { weekday: Weekday; hour: number };
    webhookAllowPrivate: boolean;
    signupLimitPerHour: number;
    staleAfterHours: number;
    /**
     * Which chat bots are configured. Off, their bot destinations are refused (a Discord channel
     * webhook needs no bot and is still taken) and `/slack/*` / `/discord/*` answer what to set.
     */
    chat: { slack: boolean; discord: boolean };
  };
  links: LinkSigner;
  metrics?: Metrics;
  /** Refuses webhook URLs that resolve to private addresses (Node: DNS; null means allowed). */
  checkWebhookUrl?: (url: string) => Promise<string | null>;
  /** Compiled email templates, for the digest's "view in browser" page. */
  templates?: EmailTemplates;
  /** The client's address for rate limits (the socket's on Node, CF-Connecting-IP on Workers). */
  clientAddress?: (c: Context) => string;
  /** Called after an ingest stored pending alert work, so a dispatcher can wake without polling. */
  onAlertWork?: () => void;
  /**
   * The destination types this server delivers (default: all). The Workers edition has no email:
   * email destinations and the email sign-up are then refused rather than stored and never sent.
   */
  channels?: readonly DestinationType[];
  /** Swagger UI's files for GET /docs (Node: from swagger-ui-dist); without it there is no /docs. */
  docsAsset?: DocsAsset;
}
