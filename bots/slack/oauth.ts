import type { Hono } from 'hono';
import type { HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { InstallProvider, type InstallationStore } from '@slack/oauth';
import { errorFields, type Logger } from '../../src/log.js';
import { slackLogger } from './logger.js';

/** users:read: a review's Assign records the assignee's name (users.info), not only their id. */
export const SLACK_BOT_SCOPES = ['commands', 'chat:write', 'chat:write.public', 'users:read'];

export interface SlackInstallDeps {
  clientId: string;
  clientSecret: string;
  stateSecret: string;
  publicUrl: string;
  /** Web API base for oauth.v2.access (tests: a loopback stand-in). */
  apiUrl?: string;
  /** Where "Add to Slack" sends people (tests: a loopback stand-in). */
  authorizationUrl?: string;
  store: InstallationStore;
  log: Logger;
}

/**
 * Many workspaces: Bolt's OAuth install flow (@slack/oauth's InstallProvider) at /slack/install
 * and /slack/oauth_redirect, with the state signed by SLACK_STATE_SECRET and kept in a cookie,
 * and each workspace's bot token in the database. InstallProvider speaks Node's request and
 * response, which @hono/node-server hands through; so this flow runs on the Node service.
 */
export function createSlackInstaller(deps: SlackInstallDeps) {
  const installer = new InstallProvider({
    clientId: deps.clientId,
    clientSecret: deps.clientSecret,
    stateSecret: deps.stateSecret,
    installationStore: deps.store,
    directInstall: true,
    logger: slackLogger(deps.log, 'slack.oauth_error'),
    ...(deps.authorizationUrl ? { authorizationUrl: deps.authorizationUrl } : {}),
    ...(deps.apiUrl ? { clientOptions: { slackApiUrl: deps.apiUrl } } : {}),
  });
  const installOptions = { scopes: SLACK_BOT_SCOPES, redirectUri: `${deps.publicUrl}/slack/oauth_redirect` };
  return {
    routes(app: Hono) {
      const node = app as unknown as Hono<{ Bindings: HttpBindings }>;
      node.get('/slack/install', async (c) => {
        await installer.handleInstallPath(c.env.incoming, c.env.outgoing, undefined, installOptions);
        return RESPONSE_ALREADY_SENT;
      });
      node.get('/slack/oauth_redirect', async (c) => {
        await installer.handleCallback(
          c.env.incoming,
          c.env.outgoing,
          {
            success: (installation, _options, _req, res) => {
              deps.log.info('slack.installed', { teamId: installation.team?.id });
              res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
              res.end('<!doctype html><meta charset="utf-8"><title>ClauseWatch installed</title><h1>ClauseWatch is installed</h1><p>Type <code>/clausewatch help</code> in a channel to start.</p>');
            },
            failure: (error, _options, _req, res) => {
              deps.log.warn('slack.install_failed', errorFields(error));
              res.writeHead(400, { 'content-type': 'text/html; charset=utf-8' });
              res.end('<!doctype html><meta charset="utf-8"><title>Install failed</title><h1>The installation did not complete</h1><p>Start again from the install link.</p>');
            },
          },
          installOptions,
        );
        return RESPONSE_ALREADY_SENT;
      });
    },
  };
}
