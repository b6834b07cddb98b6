import compiled from '../../templates/compiled.json' with { type: 'json' };
import type { EmailTemplates } from './template.js';

/** The email templates as `npm run templates:build` compiled them from templates/*.mjml. */
export const emailTemplates: EmailTemplates = compiled as EmailTemplates;
