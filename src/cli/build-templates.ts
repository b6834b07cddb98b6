/**
 * `npm run templates:build`: compiles templates/*.mjml once into templates/compiled.json, which
 * the service loads at run time. MJML (slow, and ~100 MB of memory) is never loaded by the
 * running service, nor bundled into the Workers edition. A test fails when the JSON is older
 * than its sources.
 */
import { writeFileSync } from 'node:fs';
import { compileEmailTemplates, COMPILED_TEMPLATES_FILE } from '../render/compile-templates.js';
import { parseCli } from './args.js';

parseCli({
  name: 'templates:build',
  usage: `usage: npm run templates:build

Compiles templates/*.mjml into templates/compiled.json, which the service loads at run time.`,
  options: {},
});

const templates = await compileEmailTemplates();
writeFileSync(COMPILED_TEMPLATES_FILE, `${JSON.stringify(templates, null, 1)}\n`);
console.log(`wrote ${COMPILED_TEMPLATES_FILE}`);
