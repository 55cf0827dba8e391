import type { TieredCache } from '@strata-cache/tiered';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Product, ProductStore } from './product-store.js';

/** How long a product stays cached, in seconds (Strata TTLs are always seconds). */
const PRODUCT_TTL = 300;
/** How long the absence of a product stays cached (negative caching), in seconds. */
const MISSING_TTL = 30;

const idParams = {
  type: 'object',
  properties: { id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } },
  required: ['id'],
} as const;

const productBody = {
  type: 'object',
  properties: { name: { type: 'string', minLength: 1 }, price: { type: 'integer', minimum: 0 } },
  required: ['name', 'price'],
  additionalProperties: false,
} as const;

const productKey = (id: string): string => `product:${id}`;
/** Tags: one per product, and one for every listing that shows products. */
const productTag = (id: string): string => `product:${id}`;
const CATALOG_TAG = 'catalog';

/**
 * Read-through: the cache, else the store, once for every concurrent request in every copy of the service, and
 * cached only if no write of the product happened meanwhile. A product that does not exist is cached as `null` for
 * a shorter while. The value carries the product's tag: a write of the product invalidates it, and every listing
 * that shows it, in one call.
 */
export async function readProduct(
  cache: TieredCache,
  store: ProductStore,
  id: string,
): Promise<{ product: Product | undefined; cached: boolean }> {
  let loaded = false;
  const product = await cache.getOrSet<Product | null>(
    productKey(id),
    async (ctx) => {
      loaded = true;
      const found = await store.read(id);
      if (found === undefined) ctx.ttl = MISSING_TTL;
      return found ?? null;
    },
    { ttl: PRODUCT_TTL, tags: [productTag(id)] },
  );
  return { product: product ?? undefined, cached: !loaded };
}

/** The catalog: every product, read through the cache under the `catalog` tag. */
export async function readCatalog(
  cache: TieredCache,
  store: ProductStore,
): Promise<{ products: Product[]; cached: boolean }> {
  let loaded = false;
  const products = await cache.getOrSet<Product[]>(
    'catalog:all',
    async () => {
      loaded = true;
      return store.list();
    },
    { ttl: PRODUCT_TTL, tags: [CATALOG_TAG] },
  );
  return { products: products ?? [], cached: !loaded };
}

/** A product changed: its own entry and every listing are invalidated in every copy of the service. */
async function productChanged(cache: TieredCache, id: string): Promise<void> {
  await cache.invalidateTags([productTag(id), CATALOG_TAG]);
}

/** The HTTP API: products by id, and the cache's counters. */
export function buildApp(
  cache: TieredCache,
  store: ProductStore,
  options: FastifyServerOptions = {},
): FastifyInstance {
  const app = Fastify(options);

  app.get<{ Params: { id: string } }>(
    '/products/:id',
    { schema: { params: idParams } },
    async (request, reply) => {
      const { product, cached } = await readProduct(cache, store, request.params.id);
      reply.header('x-cache', cached ? 'hit' : 'miss');
      if (product === undefined) return reply.code(404).send({ error: 'not found' });
      return product;
    },
  );

  app.get('/products', async (_request, reply) => {
    const { products, cached } = await readCatalog(cache, store);
    reply.header('x-cache', cached ? 'hit' : 'miss');
    return products;
  });

  app.put<{ Params: { id: string }; Body: { name: string; price: number } }>(
    '/products/:id',
    { schema: { params: idParams, body: productBody } },
    async (request) => {
      const product: Product = { id: request.params.id, ...request.body, updatedAt: new Date() };
      await store.write(product);
      await productChanged(cache, product.id);
      return product;
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/products/:id',
    { schema: { params: idParams } },
    async (request, reply) => {
      const existed = await store.delete(request.params.id);
      await productChanged(cache, request.params.id);
      return reply.code(existed ? 204 : 404).send();
    },
  );

  app.get('/cache/stats', async () => ({ ...cache.stats(), storeReads: store.reads }));

  return app;
}
