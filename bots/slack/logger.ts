import { LogLevel, type Logger as SlackLogger } from '@slack/logger';
import { errorFields, type Logger } from '../../src/log.js';

/**
 * Bolt's and @slack/oauth's logger, writing our JSON lines. They log the errors they catch
 * (a failed installation store write among them, whose query error carries the `xoxb-` token)
 * and strings that may quote them; so only the errors are kept, as errorFields, and only at warn
 * and error.
 */
export function slackLogger(log: Logger, msg: string): SlackLogger {
  let level = LogLevel.WARN;
  const write = (at: 'warn' | 'error') => (...parts: unknown[]) => {
    const errors = parts.filter((p): p is Error => p instanceof Error).map(errorFields);
    log[at](msg, { level: at, errors });
  };
  return {
    debug: () => {},
    info: () => {},
    warn: write('warn'),
    error: write('error'),
    setLevel: (l) => (level = l),
    getLevel: () => level,
    setName: () => {},
  };
}
