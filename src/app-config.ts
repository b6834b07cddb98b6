import type { Config } from './config.js';
import type { Secrets } from './secrets.js';
import type { AppDeps } from './http/deps.js';

/** What the HTTP app reads of the configuration, with the resolved secrets: the same on Node and Workers. */
export function appConfig(config: Config, secrets: Secrets): AppDeps['config'] {
  return {
    publicUrl: config.publicUrl,
    ingestTokens: secrets.ingestTokens,
    adminTokens: secrets.adminTokens,
    secretKey: secrets.secretKey,
    alertGroupWaitSeconds: config.alertGroupWaitSeconds,
    alertMaxAgeHours: config.alertMaxAgeHours,
    flapWindowHours: config.flapWindowHours,
    digest: { weekday: config.digest.weekday, hour: config.digest.hour },
    webhookAllowPrivate: config.webhookAllowPrivate,
    signupLimitPerHour: config.signupLimitPerHour,
    staleAfterHours: config.staleAfterHours,
    chat: { slack: Boolean(config.slack), discord: Boolean(config.discord) },
  };
}
