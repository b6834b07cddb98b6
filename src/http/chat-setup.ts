/**
 * What an operator sets to turn each chat platform on, named in every answer that refuses it
 * while it is off: a Slack or Discord bot destination (400) and any `/slack/*` or `/discord/*`
 * request (404). A destination that is stored while its platform is off would be accepted,
 * shown `active`, and then retried for hours by the outbox with no way to succeed.
 */
export const CHAT_SETUP = {
  slack: {
    name: 'Slack',
    set: 'SLACK_SIGNING_SECRET with SLACK_BOT_TOKEN (one workspace) or with SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and SLACK_STATE_SECRET (OAuth, many workspaces)',
  },
  discord: {
    name: 'Discord',
    set: 'DISCORD_APPLICATION_ID, DISCORD_PUBLIC_KEY and DISCORD_BOT_TOKEN',
  },
} as const;

export type ChatPlatform = keyof typeof CHAT_SETUP;

/** "Slack is not configured on this server: its operator sets …" */
export function chatOffSentence(platform: ChatPlatform): string {
  const { name, set } = CHAT_SETUP[platform];
  return `${name} is not configured on this server: its operator sets ${set} to turn it on.`;
}
