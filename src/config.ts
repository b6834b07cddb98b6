import { z } from 'zod';
import { WEEKDAYS, type Weekday } from './core/schedule-time.js';

/**
 * Every environment variable ClauseWatch reads, parsed once at start. Nothing else in the code base
 * looks at process.env: modules receive the parsed Config (or the part they need).
 */

/** ALERT_GROUP_WAIT_SECONDS when it is not set and NODE_ENV is development (the default). */
export const DEVELOPMENT_GROUP_WAIT_SECONDS = 10;

const intIn = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, `a whole number from ${min} to ${max}`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `a whole number from ${min} to ${max}`);

const httpUrl = z
  .string()
  .trim()
  .refine((v) => {
    try {
      const u = new URL(v);
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'an http(s) URL such as https://clausewatch.example.com')
  .transform((v) => v.replace(/\/+$/, ''));

const tokenList = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean),
  )
  .refine((list) => list.length > 0, 'one or more comma-separated tokens')
  .refine(
    (list) => list.every((t) => /^[A-Za-z0-9._~+/-]{16,}=*$/.test(t)),
    'comma-separated tokens of at least 16 characters (letters, digits, ._~+/-)',
  );

const optionalText = z
  .string()
  .trim()
  .transform((v) => (v === '' ? undefined : v))
  .optional();

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => ['true', 'false', '1', '0', 'yes', 'no'].includes(v), 'true or false')
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  ROLE: z.enum(['all', 'api', 'dispatcher']).default('all'),
  PORT: intIn(1, 65535).default(8787),
  TRUST_PROXY_HOPS: intIn(0, 5).default(0),
  // Unset: http://localhost:<PORT>, the address a development start listens on.
  PUBLIC_URL: httpUrl.optional(),
  DATABASE_URL: z
    .string()
    .trim()
    .regex(/^(file:|libsql:\/\/|https?:\/\/|wss?:\/\/)/, 'a libSQL URL: file:path, libsql://host or http(s)://host')
    .default('file:./data/clausewatch.db'),
  DATABASE_AUTH_TOKEN: optionalText,
  INGEST_TOKENS: tokenList.optional(),
  ADMIN_TOKENS: tokenList.optional(),
  SECRET_KEY: z.string().trim().min(32, 'at least 32 characters of random text').optional(),
  SMTP_URL: z
    .string()
    .trim()
    .regex(/^smtps?:\/\//, 'an smtp:// or smtps:// URL such as smtp://user:pass@mail.example.com:587')
    .optional(),
  // One mailbox, bare or with a display name: a bad sender would otherwise surface only as every
  // mail failing, hours later.
  MAIL_FROM: z
    .string()
    .trim()
    .regex(/^(?:[^<>@]*<[^\s<>@]+@[^\s<>@]+>|[^\s<>@]+@[^\s<>@]+)$/, 'a sender such as "ClauseWatch <alerts@example.com>"')
    .default('ClauseWatch <alerts@localhost>'),
  DKIM_DOMAIN: z.string().trim().regex(/^[a-z0-9.-]+\.[a-z]{2,}$/i, 'a domain name such as example.com').optional(),
  DKIM_SELECTOR: z.string().trim().regex(/^[a-z0-9._-]+$/i, 'a DNS label such as clausewatch').optional(),
  DKIM_PRIVATE_KEY: z.string().trim().refine((v) => v.includes('PRIVATE KEY'), 'a PEM private key (-----BEGIN PRIVATE KEY-----…)').optional(),
  SLACK_SIGNING_SECRET: optionalText,
  SLACK_BOT_TOKEN: optionalText,
  SLACK_CLIENT_ID: optionalText,
  SLACK_CLIENT_SECRET: optionalText,
  SLACK_STATE_SECRET: z.string().trim().min(16, 'at least 16 characters of random text').optional(),
  SLACK_API_URL: httpUrl.optional(),
  DISCORD_APPLICATION_ID: optionalText,
  DISCORD_PUBLIC_KEY: z
    .string()
    .trim()
    .regex(/^[0-9a-fA-F]{64}$/, 'the application public key: 64 hex characters')
    .optional(),
  DISCORD_BOT_TOKEN: optionalText,
  DISCORD_API_URL: httpUrl.optional(),
  ALERT_GROUP_WAIT_SECONDS: intIn(0, 3600).optional(),
  DELIVERY_LEASE_SECONDS: intIn(5, 3600).default(60),
  DIGEST_WEEKDAY: z
    .string()
    .trim()
    .toLowerCase()
    .refine((v): v is Weekday => (WEEKDAYS as readonly string[]).includes(v), 'a weekday name such as monday')
    .default('monday'),
  DIGEST_HOUR: intIn(0, 23).default(9),
  DIGEST_TICK_MINUTES: intIn(1, 60).default(5),
  STALE_AFTER_HOURS: intIn(1, 24 * 365).default(48),
  FLAP_WINDOW_HOURS: intIn(1, 24 * 90).default(72),
  ALERT_MAX_AGE_HOURS: intIn(1, 24 * 365 * 20).default(48),
  MAX_ALERTS_PER_DAY: intIn(1, 10_000).default(20),
  WEBHOOK_ALLOW_PRIVATE: bool.default(false),
  SIGNUP_LIMIT_PER_HOUR: intIn(1, 100_000).default(5),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
});

type Env = z.output<typeof envSchema>;

export interface Config {
  env: Env['NODE_ENV'];
  role: Env['ROLE'];
  port: number;
  /** Proxies in front that append to X-Forwarded-For (0: the socket's peer is the client). */
  trustProxyHops: number;
  publicUrl: string;
  database: { url: string; authToken: string | undefined };
  /** Undefined until main.ts fills them from the database on a development start. */
  ingestTokens: string[] | undefined;
  adminTokens: string[] | undefined;
  secretKey: string | undefined;
  smtpUrl: string | undefined;
  mailFrom: string;
  dkim: { domainName: string; keySelector: string; privateKey: string } | undefined;
  slack:
    | {
        signingSecret: string;
        /** One workspace: its bot token. */
        botToken: string | undefined;
        /** Many workspaces: Bolt's OAuth install flow, tokens kept per workspace in the database. */
        oauth: { clientId: string; clientSecret: string; stateSecret: string } | undefined;
        apiUrl: string | undefined;
      }
    | undefined;
  discord: { applicationId: string; publicKey: string; botToken: string; apiUrl: string | undefined } | undefined;
  alertGroupWaitSeconds: number;
  /**
   * How long a dispatcher holds a claimed outbox row. A crashed dispatcher's rows go to another
   * only after this, so it trades recovery time against a slow send being taken over (and sent
   * twice): keep it above the longest send (SMTP 30 s, webhooks 10 s) in production.
   */
  deliveryLeaseSeconds: number;
  digest: { weekday: Weekday; hour: number; tickMinutes: number };
  staleAfterHours: number;
  flapWindowHours: number;
  alertMaxAgeHours: number;
  maxAlertsPerDay: number;
  webhookAllowPrivate: boolean;
  signupLimitPerHour: number;
  logLevel: Env['LOG_LEVEL'];
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    readonly expected: string,
  ) {
    super(`${variable}: expected ${expected}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment; throws ConfigError naming the first variable at fault. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  // An empty variable means "not set", as a shell `FOO= npm start` intends.
  const present = Object.fromEntries(
    Object.keys(envSchema.shape)
      .map((k) => [k, env[k]] as const)
      .filter(([, v]) => v !== undefined && v.trim() !== ''),
  );
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const variable = String(issue.path[0] ?? 'environment');
    const expected = issue.code === 'invalid_value' && 'values' in issue ? `one of ${issue.values.join(', ')}` : issue.message;
    throw new ConfigError(variable, expected);
  }
  const e = parsed.data;

  const oauthSet = [e.SLACK_CLIENT_ID, e.SLACK_CLIENT_SECRET, e.SLACK_STATE_SECRET];
  if (oauthSet.some(Boolean) && !oauthSet.every(Boolean)) {
    const missing = ['SLACK_CLIENT_ID', 'SLACK_CLIENT_SECRET', 'SLACK_STATE_SECRET'][oauthSet.findIndex((v) => !v)]!;
    throw new ConfigError(missing, 'to be set together with the other Slack OAuth variables');
  }
  const slackOAuth = e.SLACK_CLIENT_ID && e.SLACK_CLIENT_SECRET && e.SLACK_STATE_SECRET ? { clientId: e.SLACK_CLIENT_ID, clientSecret: e.SLACK_CLIENT_SECRET, stateSecret: e.SLACK_STATE_SECRET } : undefined;
  if ((e.SLACK_BOT_TOKEN || slackOAuth) && !e.SLACK_SIGNING_SECRET) throw new ConfigError('SLACK_SIGNING_SECRET', 'a value whenever Slack is configured (Basic Information → Signing Secret)');
  if (e.SLACK_SIGNING_SECRET && !e.SLACK_BOT_TOKEN && !slackOAuth) {
    throw new ConfigError('SLACK_BOT_TOKEN', 'a bot token (xoxb-…), or SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and SLACK_STATE_SECRET for many workspaces');
  }
  const dkimSet = [e.DKIM_DOMAIN, e.DKIM_SELECTOR, e.DKIM_PRIVATE_KEY];
  if (dkimSet.some(Boolean) && !dkimSet.every(Boolean)) {
    const missing = ['DKIM_DOMAIN', 'DKIM_SELECTOR', 'DKIM_PRIVATE_KEY'][dkimSet.findIndex((v) => !v)]!;
    throw new ConfigError(missing, 'to be set together with the other DKIM variables');
  }
  const discordSet = [e.DISCORD_APPLICATION_ID, e.DISCORD_PUBLIC_KEY, e.DISCORD_BOT_TOKEN];
  if (discordSet.some(Boolean) && !discordSet.every(Boolean)) {
    const missing = ['DISCORD_APPLICATION_ID', 'DISCORD_PUBLIC_KEY', 'DISCORD_BOT_TOKEN'][discordSet.findIndex((v) => !v)]!;
    throw new ConfigError(missing, 'to be set together with the other Discord variables');
  }
  // npm run start:api tunes V8 for a process that serves HTTP alone (package.json): a dispatcher
  // under it would hold a fan-out in a young generation four times npm start's, and optimise its
  // burst's code without the interrupt budget that saves a fan-out a third of its CPU. npm names
  // the script in npm_lifecycle_event, `node --run` (Node 22) in NODE_RUN_SCRIPT_NAME.
  if ((env.npm_lifecycle_event === 'start:api' || env.NODE_RUN_SCRIPT_NAME === 'start:api') && e.ROLE !== 'api') {
    throw new ConfigError('ROLE', 'api under npm run start:api, whose V8 options suit a process that serves HTTP alone (npm start runs the other roles)');
  }
  const publicUrl = e.PUBLIC_URL ?? `http://localhost:${e.PORT}`;
  if (e.NODE_ENV === 'production') {
    for (const name of ['INGEST_TOKENS', 'ADMIN_TOKENS', 'SECRET_KEY'] as const) {
      if (!e[name]) throw new ConfigError(name, 'a value in production (development starts generate one)');
    }
    // Every mail's List-Unsubscribe link is made from it, and RFC 8058 one-click needs https. A
    // loopback address set on purpose is the exception: it is a secure context (W3C Secure
    // Contexts) that only this machine reaches, as in a replay or benchmark of a production build.
    if (!publicUrl.startsWith('https://') && !(e.PUBLIC_URL && isLoopbackUrl(publicUrl))) {
      throw new ConfigError('PUBLIC_URL', 'an https:// URL in production (one-click unsubscribe, RFC 8058, needs https links)');
    }
  }

  return {
    env: e.NODE_ENV,
    role: e.ROLE,
    port: e.PORT,
    trustProxyHops: e.TRUST_PROXY_HOPS,
    publicUrl,
    database: { url: e.DATABASE_URL, authToken: e.DATABASE_AUTH_TOKEN },
    ingestTokens: e.INGEST_TOKENS,
    adminTokens: e.ADMIN_TOKENS,
    secretKey: e.SECRET_KEY,
    smtpUrl: e.SMTP_URL,
    mailFrom: e.MAIL_FROM,
    dkim:
      e.DKIM_DOMAIN && e.DKIM_SELECTOR && e.DKIM_PRIVATE_KEY
        ? { domainName: e.DKIM_DOMAIN, keySelector: e.DKIM_SELECTOR, privateKey: e.DKIM_PRIVATE_KEY.replace(/\\n/g, '\n') }
        : undefined,
    slack: e.SLACK_SIGNING_SECRET
      ? { signingSecret: e.SLACK_SIGNING_SECRET, botToken: e.SLACK_BOT_TOKEN, oauth: slackOAuth, apiUrl: e.SLACK_API_URL ? `${e.SLACK_API_URL}/` : undefined }
      : undefined,
    discord:
      e.DISCORD_APPLICATION_ID && e.DISCORD_PUBLIC_KEY && e.DISCORD_BOT_TOKEN
        ? {
            applicationId: e.DISCORD_APPLICATION_ID,
            publicKey: e.DISCORD_PUBLIC_KEY.toLowerCase(),
            botToken: e.DISCORD_BOT_TOKEN,
            apiUrl: e.DISCORD_API_URL,
          }
        : undefined,
    // The contract's 60 s, except on a development start: someone trying `npm run demo` on a
    // fresh clone would otherwise stare at an empty data/outbox/ for a minute.
    alertGroupWaitSeconds: e.ALERT_GROUP_WAIT_SECONDS ?? (e.NODE_ENV === 'development' ? DEVELOPMENT_GROUP_WAIT_SECONDS : 60),
    deliveryLeaseSeconds: e.DELIVERY_LEASE_SECONDS,
    digest: { weekday: e.DIGEST_WEEKDAY as Weekday, hour: e.DIGEST_HOUR, tickMinutes: e.DIGEST_TICK_MINUTES },
    staleAfterHours: e.STALE_AFTER_HOURS,
    flapWindowHours: e.FLAP_WINDOW_HOURS,
    alertMaxAgeHours: e.ALERT_MAX_AGE_HOURS,
    maxAlertsPerDay: e.MAX_ALERTS_PER_DAY,
    webhookAllowPrivate: e.WEBHOOK_ALLOW_PRIVATE,
    signupLimitPerHour: e.SIGNUP_LIMIT_PER_HOUR,
    logLevel: e.LOG_LEVEL,
  };
}

/** http://localhost, http://127.x.y.z or http://[::1]: a URL only this machine can open. */
function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
