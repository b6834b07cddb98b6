/**
 * `npm run eml [-- <file.eml>]`: prints a mail the embedded default wrote under data/outbox/ as a
 * person reads it: From, To, Subject, Date, and its plain-text part decoded (nodemailer writes the
 * parts base64 or quoted-printable, so `cat` shows little). Without a file, the newest one.
 * mailparser is a development dependency: `npm install` (not `--omit=dev`) brings it.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { loadConfig } from '../config.js';
import { defaultOutboxDir } from '../service.js';
import { parseCli } from './args.js';

const { values, positionals } = parseCli({
  name: 'eml',
  usage: `usage: npm run eml [-- <file.eml>] [--html]

Prints a mail written as an .eml file (no SMTP_URL): its From, To, Subject and Date, then its
plain-text part, decoded. Without a file: the newest .eml in the outbox beside DATABASE_URL
(data/outbox/ by default).

      --html    print the HTML part instead of the text part`,
  options: { html: { type: 'boolean', default: false } },
  allowPositionals: true,
});

async function main() {
  if (positionals.length > 1) throw new Error('give one .eml file (or none, for the newest)');
  let file = positionals[0];
  if (!file) {
    const dir = defaultOutboxDir(loadConfig(process.env).database.url);
    let names: string[] = [];
    try {
      names = readdirSync(dir).filter((n) => n.endsWith('.eml'));
    } catch {
      // No outbox yet: said below.
    }
    if (!names.length) throw new Error(`no .eml file in ${dir} yet: a mail is written there once its message is sent (npm run demo waits for its alert)`);
    file = join(dir, names.sort((a, b) => statSync(join(dir, b)).mtimeMs - statSync(join(dir, a)).mtimeMs || b.localeCompare(a))[0]!);
  }
  const mail = await simpleParser(readFileSync(file));
  const head = [
    `File:    ${file}`,
    `From:    ${mail.from?.text ?? ''}`,
    `To:      ${[mail.to].flat().map((a) => a?.text ?? '').join(', ')}`,
    `Subject: ${mail.subject ?? ''}`,
    `Date:    ${mail.date?.toISOString() ?? ''}`,
  ];
  const body = values.html ? (mail.html || '(no HTML part)') : (mail.text ?? '(no text part)');
  process.stdout.write(`${head.join('\n')}\n\n${String(body).trimEnd()}\n`);
}

main().catch((e) => {
  console.error(`eml: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
});
