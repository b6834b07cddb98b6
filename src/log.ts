/**
 * JSON-lines logging: one object per line with an event name (`msg`) and ids. Never pass tokens,
 * secrets or message bodies in `fields`.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
export type Logger = Record<Exclude<LogLevel, 'silent'>, (msg: string, fields?: Record<string, unknown>) => void>;

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export function createLogger(level: LogLevel, write: (line: string) => void = (l) => console.log(l), clock: () => number = Date.now): Logger {
  const at = (lvl: Exclude<LogLevel, 'silent'>) => (msg: string, fields: Record<string, unknown> = {}) => {
    if (ORDER[lvl] < ORDER[level]) return;
    write(JSON.stringify({ time: new Date(clock()).toISOString(), level: lvl, msg, ...fields }));
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export const silentLogger: Logger = createLogger('silent', () => {});

/**
 * What of an error goes into a log line: its class name, its code, the database's own message
 * and the stack's frames, never its message otherwise. Query errors (drizzle's DrizzleQueryError)
 * carry the SQL's every bound parameter in their message, so a locked database would put a
 * webhook's `whsec_` secret, an email address or an `xoxb-` token into the log; other messages
 * can quote a body (JSON.parse's does). SQLite's messages name tables, columns and constraints,
 * never values. Every log line about an error goes through here.
 */
export function errorFields(err: unknown): { error: string; code?: string; detail?: string; frames?: string[] } {
  if (!(err instanceof Error)) return { error: typeof err };
  const fields: { error: string; code?: string; detail?: string; frames?: string[] } = { error: err.constructor?.name || err.name };
  // A query error wraps the driver's error: that one has the code and a message without values.
  const driver = isQueryError(err) && err.cause instanceof Error ? err.cause : err;
  const code = (driver as { extendedCode?: unknown; code?: unknown }).extendedCode ?? (driver as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') fields.code = String(code);
  if (driver !== err || /^(Libsql|Sqlite|D1)/i.test(driver.constructor?.name ?? '')) {
    fields.error = `${fields.error}: ${driver.constructor?.name || driver.name}`;
    if (/^(Libsql|Sqlite)/i.test(driver.constructor?.name ?? '') || /^(SQLITE_|D1_)/.test(String(code ?? ''))) fields.detail = driver.message.slice(0, 300);
  }
  const frames = err.stack?.split('\n').filter((l) => /^\s+at /.test(l)).slice(0, 8).map((l) => l.trim());
  if (frames?.length) fields.frames = frames;
  return fields;
}

const isQueryError = (err: Error): boolean => 'params' in err && 'query' in err;
