import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** A product, as the service stores and serves it. */
export interface Product {
  readonly id: string;
  readonly name: string;
  /** In cents. */
  readonly price: number;
  readonly updatedAt: Date;
}

/**
 * The service's database: one JSON file per product in a directory that every copy of the service shares. It stands
 * in for Postgres or the like; what matters is that it is the source of truth, and slower than the cache.
 */
export class ProductStore {
  readonly #dir: string;
  /** How many reads reached the store: the cache's job is to keep this low. */
  reads = 0;

  constructor(dir: string) {
    this.#dir = dir;
  }

  async read(id: string): Promise<Product | undefined> {
    this.reads++;
    try {
      const raw = JSON.parse(await readFile(this.#file(id), 'utf8')) as Omit<Product, 'updatedAt'> & {
        updatedAt: string;
      };
      return { ...raw, updatedAt: new Date(raw.updatedAt) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async write(product: Product): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    const temporary = `${this.#file(product.id)}.${process.pid}.tmp`;
    await writeFile(temporary, JSON.stringify(product));
    await rename(temporary, this.#file(product.id));
  }

  async delete(id: string): Promise<boolean> {
    try {
      await rm(this.#file(id));
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
  }

  /** Every product, by id (a listing query: what a catalog page reads). */
  async list(): Promise<Product[]> {
    this.reads++;
    let names: string[];
    try {
      names = (await readdir(this.#dir)).filter((name) => name.endsWith('.json'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const products: Product[] = [];
    for (const name of names.sort()) {
      const raw = JSON.parse(await readFile(join(this.#dir, name), 'utf8')) as Omit<Product, 'updatedAt'> & {
        updatedAt: string;
      };
      products.push({ ...raw, updatedAt: new Date(raw.updatedAt) });
    }
    return products;
  }

  #file(id: string): string {
    return join(this.#dir, `${id}.json`);
  }
}
