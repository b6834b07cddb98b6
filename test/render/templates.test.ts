import { describe, expect, it } from 'vitest';
import { compileEmailTemplates } from '../../src/render/compile-templates.js';
import { emailTemplates } from '../../src/render/templates.js';

describe('compiled email templates', () => {
  it('are what templates/*.mjml compile to today (run `npm run templates:build` after editing them)', async () => {
    expect(JSON.parse(JSON.stringify(await compileEmailTemplates()))).toEqual(emailTemplates);
  });
});
