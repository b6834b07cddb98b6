import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import mjml2html from 'mjml';
import { parseTemplate, type EmailTemplates, type Template } from './template.js';

export const TEMPLATES_DIR = fileURLToPath(new URL('../../templates/', import.meta.url));
export const COMPILED_TEMPLATES_FILE = `${TEMPLATES_DIR}compiled.json`;

/** Compiles one MJML file to HTML (mjml 5 is async, and ~20 ms a document: once per start). */
export async function compileMjml(file: string): Promise<string> {
  const path = `${TEMPLATES_DIR}${file}`;
  // mjml 5 ignores <mj-include> unless told otherwise (and then only under includePath): without
  // this, templates/partials/head.mjml (fonts, palette, the dark-mode styles) was silently left out.
  const result = await mjml2html(readFileSync(path, 'utf8'), { filePath: path, validationLevel: 'strict', keepComments: true, ignoreIncludes: false, includePath: TEMPLATES_DIR });
  if (result.errors.length) throw new Error(`${file}: ${result.errors.map((e) => e.formattedMessage).join('; ')}`);
  // MJML hides the preview text (mj-preview) white on white as well as display:none; SpamAssassin
  // scores that as hidden text (HTML_FONT_LOW_CONTRAST, 0.7). display:none alone hides it.
  return result.html.replace('display:none;font-size:1px;color:#ffffff;', 'display:none;font-size:1px;color:#52606d;');
}

/** A block is a whole MJML document (so it compiles alone) whose part between the markers is kept. */
async function compileBlock(file: string): Promise<Template> {
  const html = await compileMjml(file);
  const begin = html.indexOf('<!--begin-->');
  const end = html.indexOf('<!--end-->');
  if (begin < 0 || end < begin) throw new Error(`${file}: no <!--begin--> … <!--end--> markers`);
  return parseTemplate(html.slice(begin + '<!--begin-->'.length, end));
}

export async function compileEmailTemplates(): Promise<EmailTemplates> {
  const [alert, confirm, manageLink, digest, change, notice, digestChanges, digestSection, summary] = await Promise.all([
    compileMjml('alert.mjml'),
    compileMjml('confirm.mjml'),
    compileMjml('manage-link.mjml'),
    compileMjml('digest.mjml'),
    compileBlock('blocks/change.mjml'),
    compileBlock('blocks/notice.mjml'),
    compileBlock('blocks/digest-changes.mjml'),
    compileBlock('blocks/digest-section.mjml'),
    compileBlock('blocks/summary.mjml'),
  ]);
  return {
    alert: parseTemplate(alert),
    confirm: parseTemplate(confirm),
    manageLink: parseTemplate(manageLink),
    digest: parseTemplate(digest),
    blocks: { change, notice, digestChanges, digestSection, summary },
  };
}
