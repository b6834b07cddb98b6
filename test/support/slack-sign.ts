import { createHmac } from 'node:crypto';

export const SLACK_SIGNING_SECRET = 'test-slack-signing-secret-0123456789';

/** Signs a request body as Slack does: v0=HMAC-SHA256(secret, "v0:timestamp:body"). */
export function slackHeaders(body: string, opts: { now?: number; secret?: string } = {}): Record<string, string> {
  const ts = Math.floor((opts.now ?? Date.now()) / 1000);
  const sig = createHmac('sha256', opts.secret ?? SLACK_SIGNING_SECRET).update(`v0:${ts}:${body}`).digest('hex');
  return { 'x-slack-request-timestamp': String(ts), 'x-slack-signature': `v0=${sig}`, 'content-type': 'application/x-www-form-urlencoded' };
}

export function slashCommand(text: string, extra: Record<string, string> = {}): string {
  return new URLSearchParams({
    token: 'legacy',
    team_id: 'T0001',
    team_domain: 'acme',
    channel_id: 'C0001',
    channel_name: 'legal',
    user_id: 'U0001',
    user_name: 'ana',
    command: '/clausewatch',
    text,
    api_app_id: 'A0001',
    response_url: 'http://127.0.0.1:9/respond/x',
    trigger_id: '1.2.3',
    ...extra,
  }).toString();
}
