/** A change event as a watcher posts it to /v1/events, detected a minute ago unless overridden. */
export const changeEvent = (id: string, overrides: Record<string, unknown> = {}) => ({
  id,
  platform: { slug: 'openai', name: 'OpenAI' },
  document: { title: 'OpenAI Terms of Use' },
  severity: 'high',
  categories: ['arbitration'],
  title: 'Class-action waiver added',
  summary: 'Disputes go to individual arbitration.',
  detected_at: new Date(Date.now() - 60_000).toISOString(),
  ...overrides,
});
