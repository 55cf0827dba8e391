export { MemoryCacheAdapter, type MemoryCacheAdapterOptions } from './memory-cache-adapter.js';
export { MemoryStore, type MemoryStoreOptions } from './memory-store.js';
