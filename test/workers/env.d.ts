import type { D1Migration } from 'cloudflare:test';
import type { DeliveryMessage } from '../../src/workers/edition.js';

declare global {
  namespace Cloudflare {
    interface Env {
      DB: D1Database;
      DELIVERY: Queue<DeliveryMessage>;
      EMAIL: SendEmail;
      TEST_MIGRATIONS: D1Migration[];
    }
    // Types `exports` of cloudflare:workers (wrangler 4.86's types do not emit it).
    interface GlobalProps {
      mainModule: typeof import('../../src/worker.js');
    }
  }
}
export {};
