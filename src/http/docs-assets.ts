import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { DocsAsset } from './docs.js';

/** Swagger UI's static files from the swagger-ui-dist package (Node only: the Workers edition serves no /docs). */
export const swaggerUiAsset: DocsAsset = async (file) => {
  const dir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  return new Uint8Array(await readFile(join(dir, file)));
};
