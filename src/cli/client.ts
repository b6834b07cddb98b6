import { loadConfig } from '../config.js';
import { openDatabase } from '../db.js';
import { storedDevelopmentToken } from '../secrets.js';

/** A JSON call to a running ClauseWatch: `(method, path, token, body?) → parsed answer`; throws on non-2xx. */
export type ApiCall = (method: string, path: string, token: string, body?: unknown) => Promise<any>;

export interface ApiClient {
  base: string;
  ingest: string;
  admin: string;
  call: ApiCall;
}

/**
 * Where the running service is and its tokens: CLAUSEWATCH_URL / INGEST_TOKEN / ADMIN_TOKEN, or,
 * for a development start on a local database, the tokens that start generated and kept there.
 */
export async function apiClient(env: NodeJS.ProcessEnv = process.env): Promise<ApiClient> {
  const config = loadConfig(env);
  const base = (env.CLAUSEWATCH_URL ?? `http://localhost:${config.port}`).replace(/\/$/, '');
  let ingest = env.INGEST_TOKEN ?? config.ingestTokens?.[0];
  let admin = env.ADMIN_TOKEN ?? config.adminTokens?.[0];
  if ((!ingest || !admin) && config.database.url.startsWith('file:')) {
    const database = await openDatabase(config.database.url);
    ingest ??= await storedDevelopmentToken(database.db, 'INGEST_TOKENS');
    admin ??= await storedDevelopmentToken(database.db, 'ADMIN_TOKENS');
    database.close();
  }
  if (!ingest || !admin) throw new Error('Set INGEST_TOKEN and ADMIN_TOKEN (or start the service once on this database).');
  return { base, ingest, admin, call: fetchCall(base, fetch) };
}

/** An ApiCall over any fetch: the network one, or an in-process app's `request` in tests. */
export function fetchCall(base: string, doFetch: (url: string, init: RequestInit) => Promise<Response>): ApiCall {
  return async (method, path, token, body) => {
    let res: Response;
    try {
      res = await doFetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      // undici's "fetch failed" names neither the address nor the remedy; the cause has the code.
      const code = (e as { cause?: { code?: string } })?.cause?.code ?? (e instanceof Error ? e.message : String(e));
      throw new Error(`no ClauseWatch answered at ${base} (${code}): start one with \`npm start\`, or set CLAUSEWATCH_URL to where it runs`);
    }
    const json = (await res.json().catch(() => null)) as any;
    // The one error shape: { error: 'snake_case_code', message: 'A sentence.' }.
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${json?.error ?? ''} ${json?.message ?? ''}`.replace(/\s+/g, ' ').trim());
    return json;
  };
}
