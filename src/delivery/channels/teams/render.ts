import type { Renderers } from '../../channel.js';
import { renderAlertTeams, renderDigestTeams, type TeamsMessage } from '../../../render/teams.js';
import type { TeamsDestination } from './destination.js';

/** Adaptive Cards for alerts and digests (render/teams.ts splits them under Teams' 28 KB). */
export const teamsRenderers: Renderers<TeamsDestination, TeamsMessage, 'alert' | 'digest'> = {
  alert: (content) => renderAlertTeams(content),
  digest: (content) => renderDigestTeams(content),
};
