export { MemoryCacheAdapter, type MemoryCacheAdapterOptions } from './memory-cache-adapter.js';
