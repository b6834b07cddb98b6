import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { z } from 'zod';

/**
 * The one error shape of every answer: {"error": snake_case_code, "message": a sentence a person
 * can act on}, plus `issues` (every field at fault) where input was refused.
 */
export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export interface FieldIssue {
  path: string;
  message: string;
}

export function errorBody(code: string, message: string, extra: Record<string, unknown> = {}) {
  return { error: code, message, ...extra };
}

export function sendError(c: Context, err: ApiError) {
  return c.json(errorBody(err.code, err.message, err.extra), err.status);
}

export function invalid(code: string, issues: FieldIssue[], what = 'request'): ApiError {
  const first = issues[0];
  const summary = first ? `${first.path}: ${first.message}` : 'invalid input';
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  return new ApiError(400, code, `The ${what} is invalid. ${summary}${more}.`, { issues });
}

export function zodIssues(error: z.ZodError, prefix: (string | number)[] = []): FieldIssue[] {
  return error.issues.map((i) => ({
    path: [...prefix, ...i.path].map(String).join('.') || '(body)',
    message: i.code === 'invalid_type' && i.input === undefined ? 'is required' : i.message,
  }));
}

/** Parses with a zod schema or throws the 400 that names every field at fault. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, code = 'invalid_request'): z.output<S> {
  const r = schema.safeParse(input);
  if (!r.success) throw invalid(code, zodIssues(r.error));
  return r.data;
}

export const notFound = (what: string, id: string, hint = '') =>
  new ApiError(404, 'not_found', `No ${what} '${id}'.${hint ? ` ${hint}` : ''}`);
