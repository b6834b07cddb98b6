import { OpenAPIHono, type RouteConfig } from '@hono/zod-openapi';
import type { Context, Env, MiddlewareHandler } from 'hono';
import type { BlankEnv, BlankSchema } from 'hono/types';
import { z } from 'zod';

/**
 * The HTTP API's description (OpenAPI 3.1), made from the routes themselves: every route is
 * declared with `describedRoute`, whose zod schemas are the ones its handler validates with, so
 * the description cannot drift from what is enforced. test/http/openapi.test.ts fails for a
 * route the app serves but the description lacks.
 *
 * zod-openapi's own validators are not used: they read JSON bodies without the size cap of
 * body.ts, answer 415 and malformed JSON in another shape, and read a repeated query key as an
 * array. Handlers keep validating with parseOrThrow (errors.ts), so every error keeps its code.
 */

/** Every error answer (errors.ts): the code, a sentence, and for refused input every field at fault. */
export const errorSchema = z
  .looseObject({
    error: z.string().meta({ description: 'A snake_case code a program can branch on', example: 'invalid_event' }),
    message: z.string().meta({ description: 'A sentence a person can act on', example: 'The event is invalid. severity: one of low, medium, high.' }),
    issues: z
      .array(
        z.object({
          path: z.string().meta({ description: 'The field at fault, dot-separated (events.3.severity), or (body) for the body as a whole', example: 'severity' }),
          message: z.string().meta({ example: 'one of low, medium, high' }),
        }),
      )
      .optional()
      .meta({ description: 'Refused input (400): every field at fault' }),
  })
  .meta({ id: 'Error', description: 'The one error shape of every answer. Some codes add fields: `ids` (event_conflict), `suggestions` (unknown_platform).' });

/** The error answers, described once as response components; routes reference them by status. */
const ERROR_RESPONSES = {
  400: ['InvalidInput', 'Input refused: `error` is the endpoint’s code (invalid_event, invalid_query, …), `issues` lists every field at fault. Nothing was changed.'],
  401: ['Unauthorized', '`unauthorized`: no valid token in `Authorization: Bearer <token>`.'],
  402: ['PlanLimit', '`plan_limit`: the account’s plan watches no more platforms.'],
  404: ['NotFound', '`not_found` (or `unknown_platform`, with `suggestions`): nothing by that id.'],
  409: ['Conflict', 'The request contradicts what is stored (`event_conflict`: an id already used for other content, `ids` names them).'],
  413: ['PayloadTooLarge', '`payload_too_large`: the body is over the endpoint’s cap.'],
  415: ['UnsupportedMediaType', '`unsupported_media_type`: send the body as JSON with `Content-Type: application/json`.'],
  429: ['RateLimited', '`rate_limited`: too many requests from this address; `Retry-After` says when to try again.'],
} as const;
export type ErrorStatus = keyof typeof ERROR_RESPONSES;

/** References to the shared error responses, for a route's `responses`. */
export function errors(...statuses: ErrorStatus[]): Record<string, { $ref: string }> {
  return Object.fromEntries(statuses.map((s) => [String(s), { $ref: `#/components/responses/${ERROR_RESPONSES[s][0]}` }]));
}

export const ingestAuth = [{ ingestToken: [] }];
export const adminAuth = [{ adminToken: [] }];

/** A JSON body of `schema` for a route's `request.body`. */
export const jsonBody = (schema: z.ZodType, description?: string) => ({ required: true, description, content: { 'application/json': { schema } } });
/** An HTML form's fields (urlencoded or multipart). */
export const formBody = (schema: z.ZodType) => ({
  required: true,
  content: { 'application/x-www-form-urlencoded': { schema }, 'multipart/form-data': { schema } },
});
/** A JSON answer of `schema` (or of any JSON, described in words). */
export const json = (description: string, schema?: z.ZodType) => ({ description, content: { 'application/json': { schema: schema ?? z.looseObject({}) } } });
/** An HTML page. */
export const htmlPage = (description: string) => ({ description, content: { 'text/html': { schema: z.string() } } });

/** Path parameters: ids and tokens, each a string. */
export const pathParams = (descriptions: Record<string, string>) =>
  z.object(Object.fromEntries(Object.entries(descriptions).map(([name, description]) => [name, z.string().meta({ description })])));

/** `{"data": [...], "next_cursor"}`: every list endpoint's answer. */
export const listOf = (item: z.ZodType) => z.object({ data: z.array(item), next_cursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last' }) });

/** OpenAPI's `{id}` path as Hono routes it (`:id`). */
type HonoPath<P extends string> = P extends `${infer Start}/{${infer Param}}${infer Rest}` ? `${Start}/:${Param}${HonoPath<Rest>}` : P;

export interface DescribedRoute extends RouteConfig {
  /** Hono's path when a parameter is matched by a pattern (`/feeds/:file{[a-z0-9-]+\\.atom}`). */
  routing?: string;
}

/** A route's description, its literal path kept for the handler's typed parameters. */
export const defineRoute = <const R extends DescribedRoute>(route: R): R => route;

type RouteHandler<R extends DescribedRoute> = (c: Context<Env, HonoPath<R['path']>>) => Response | Promise<Response>;

/**
 * Serves `route` with `handlers` (middleware first) and adds it to `app`'s description. The
 * route's `request` schemas are described, not enforced here: the handler parses with them.
 */
export function describedRoute<const R extends DescribedRoute>(app: DescribedRoutes, route: R, ...handlers: [...MiddlewareHandler[], RouteHandler<R>]): void {
  const { routing, ...config } = route;
  app.openAPIRegistry.registerPath(config);
  const path = routing ?? route.path.replaceAll(/\{([^}]+)\}/g, ':$1');
  // The handler's typed context is Hono's for this path; `on` takes it as any handler.
  app.on(route.method.toUpperCase(), path, ...(handlers as unknown as [MiddlewareHandler]));
}

/** A router whose routes are described (mounted with app.route, its description joins the parent's). */
export const describedRoutes = () => new OpenAPIHono<BlankEnv, BlankSchema>();
export type DescribedRoutes = ReturnType<typeof describedRoutes>;

/** The components every description shares: the error shape and responses, the two tokens. */
export function registerShared(app: DescribedRoutes): void {
  const registry = app.openAPIRegistry;
  registry.register('Error', errorSchema);
  for (const [status, [name, description]] of Object.entries(ERROR_RESPONSES)) {
    registry.registerComponent('responses', name, {
      description,
      ...(status === '429' ? { headers: { 'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer' } } } } : {}),
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
    });
  }
  registry.registerComponent('securitySchemes', 'ingestToken', { type: 'http', scheme: 'bearer', description: 'One of INGEST_TOKENS: the monitoring pipeline posts events and verifications with it' });
  registry.registerComponent('securitySchemes', 'adminToken', { type: 'http', scheme: 'bearer', description: 'One of ADMIN_TOKENS: accounts, destinations, subscriptions, the delivery log, /metrics' });
}

/** The whole description, as GET /openapi.json serves it. */
export function describeApi(app: DescribedRoutes, publicUrl: string) {
  return app.getOpenAPI31Document({
    openapi: '3.1.0',
    info: {
      title: 'ClauseWatch',
      version: 'v1',
      description:
        'Policy-change alerts and weekly digests. A monitoring pipeline posts change events (`POST /v1/events`, ingest token); operators manage accounts, destinations and subscriptions (admin token); people use the pages behind signed links and the Atom feeds. Every error answer has the shape of `#/components/schemas/Error`.',
    },
    servers: [{ url: publicUrl }],
  });
}
