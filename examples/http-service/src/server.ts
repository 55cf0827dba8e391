// Starts the service. Environment: REDIS_URL (required), PORT (default 3000; 0 picks a free one), HOST (default
// 127.0.0.1), DATA_DIR (default ./data), CACHE_NAMESPACE (default 'shop'), LOG_LEVEL (default: no request log).
import { buildApp } from './app.js';
import { createServiceCache } from './cache.js';
import { ProductStore } from './product-store.js';

const redisUrl = process.env.REDIS_URL;
if (redisUrl === undefined || redisUrl === '') {
  process.stderr.write('Set REDIS_URL=redis://HOST:PORT (a Redis this service may write to).\n');
  process.exit(2);
}

const { cache, close } = await createServiceCache(redisUrl, process.env.CACHE_NAMESPACE ?? 'shop');
cache.on('error', ({ operation, error }) => process.stderr.write(`cache ${operation}: ${error.message}\n`));
const store = new ProductStore(process.env.DATA_DIR ?? 'data');
const level = process.env.LOG_LEVEL;
const app = buildApp(cache, store, { logger: level === undefined ? false : { level } });

const address = await app.listen({
  port: Number(process.env.PORT ?? 3000),
  host: process.env.HOST ?? '127.0.0.1',
});
process.stdout.write(`listening on ${address}\n`);

async function shutdown(): Promise<void> {
  await app.close();
  await close();
  process.exit(0);
}
process.once('SIGTERM', () => void shutdown());
process.once('SIGINT', () => void shutdown());
