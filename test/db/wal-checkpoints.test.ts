import { afterEach, describe, expect, it } from 'vitest';
import { statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from '@libsql/client';
import { openDatabase } from '../../src/db.js';
import { CHECKPOINT_AFTER_FRAMES, INLINE_CHECKPOINT_FRAMES, walFrames } from '../../src/db-checkpoints.js';
import { tempDatabase, type TempDatabase } from '../support/db.js';

const PAGE = 4096;
let database: TempDatabase | undefined;
afterEach(() => database?.dispose());

/** A fresh database file with a table of blobs, and its path. */
async function blobDatabase() {
  database = await tempDatabase({ catalog: false });
  await database.client.execute('CREATE TABLE blobs (n INTEGER PRIMARY KEY, data BLOB)');
  return { database, file: database.url.slice('file:'.length) };
}

/** One committed write of about `pages` pages of new rows. */
const writePages = (client: { execute(sql: string): Promise<unknown> }, pages: number) =>
  client.execute(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${pages}) INSERT INTO blobs (data) SELECT randomblob(3000) FROM n`);

const fileSize = (file: string) => statSync(file).size;

async function until(done: () => boolean, ms = 5_000) {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(10);
  }
}

describe('WAL checkpoints', () => {
  it('are not run by the commit that leaves the WAL long, but on a thread of their own soon after', async () => {
    const { database, file } = await blobDatabase();
    const before = fileSize(file);
    await writePages(database.client, 2 * CHECKPOINT_AFTER_FRAMES);
    // Committed, in the WAL, and not yet copied into the database file: the commit did not wait for it.
    expect(walFrames(file, PAGE)).toBeGreaterThanOrEqual(2 * CHECKPOINT_AFTER_FRAMES);
    expect(fileSize(file)).toBe(before);
    // The thread copies it back.
    await until(() => database.checkpoints!.stats.checkpoints > 0);
    expect(fileSize(file)).toBeGreaterThan(before + 2 * CHECKPOINT_AFTER_FRAMES * PAGE * 0.7);
    // And the next write starts the WAL over.
    await database.client.execute('INSERT INTO blobs (data) VALUES (1)');
    expect(walFrames(file, PAGE)).toBeLessThan(10);
  });

  it('were run by the commit itself with SQLite’s own settings (what the thread takes off the request)', async () => {
    const { database: d, file } = await blobDatabase();
    d.close();
    const plain = createClient({ url: `file:${file}` });
    try {
      const before = fileSize(file);
      await writePages(plain, 2 * CHECKPOINT_AFTER_FRAMES);
      expect(fileSize(file)).toBeGreaterThan(before + 2 * CHECKPOINT_AFTER_FRAMES * PAGE * 0.7);
    } finally {
      plain.close();
    }
  });

  it('keep the WAL about as long as SQLite’s threshold while requests write, and bounded when they cannot keep up', async () => {
    const { database, file } = await blobDatabase();
    // The bound: past it the commit checkpoints by itself, as SQLite does.
    expect((await database.client.execute('PRAGMA wal_autocheckpoint')).rows[0]![0]).toBe(INLINE_CHECKPOINT_FRAMES);
    const lengths: number[] = [];
    // Requests of 500 pages with a reply's worth of time between them: 30 ms, or on a loaded
    // machine as long as the thread's copy takes (30 ms alone let the WAL reach 2,583 frames in a
    // CI run on a slow VM, where the copy had not finished before the next write).
    for (let i = 0; i < 20; i++) {
      await writePages(database.client, 500);
      lengths.push(walFrames(file, PAGE));
      await sleep(30);
      await until(() => !database.checkpoints!.stats.copying);
    }
    expect(Math.max(...lengths)).toBeLessThan(CHECKPOINT_AFTER_FRAMES + 3 * 500);
    expect(database.checkpoints!.stats.checkpoints).toBeGreaterThan(3);
    // Back to back, 15,000 pages: whether the thread keeps up or the commits take over, the WAL stays bounded.
    for (let i = 0; i < 30; i++) {
      await writePages(database.client, 500);
      lengths.push(walFrames(file, PAGE));
    }
    expect(Math.max(...lengths)).toBeLessThanOrEqual(INLINE_CHECKPOINT_FRAMES + 500 + 10);
    expect((await database.client.execute('SELECT count(*) FROM blobs')).rows[0]![0]).toBe(50 * 500);
  });

  it('lose no commit when the database is closed during one and opened again', async () => {
    const { database: d, file } = await blobDatabase();
    for (let i = 0; i < 6; i++) await writePages(d.client, 500);
    // Very likely while the thread copies the WAL back: close waits for it.
    d.close();
    expect(d.checkpoints!.stats.running).toBe(false);
    const again = await openDatabase(`file:${file}`);
    try {
      expect((await again.client.execute('SELECT count(*) FROM blobs')).rows[0]![0]).toBe(3_000);
      expect((await again.client.execute('PRAGMA integrity_check')).rows[0]![0]).toBe('ok');
    } finally {
      again.close();
    }
  });

  it('start no thread for a database that never writes 1,000 pages, and close at once', async () => {
    const { database: d } = await blobDatabase();
    await writePages(d.client, 10);
    d.close();
    expect(d.checkpoints!.stats).toMatchObject({ checkpoints: 0, running: false, failures: 0 });
  });
});
