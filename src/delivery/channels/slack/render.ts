import type { Renderers } from '../../channel.js';
import { renderAlertSlack, renderDigestSlack, type SlackMessage } from '../../../render/slack.js';
import type { SlackDestination } from './destination.js';

/** Block Kit for alerts and digests (render/slack.ts splits them within Slack's limits). */
export const slackRenderers: Renderers<SlackDestination, SlackMessage, 'alert' | 'digest'> = {
  alert: (content) => renderAlertSlack(content),
  digest: (content) => renderDigestSlack(content),
};
