import fc from 'fast-check';
import { smallKeyArb, valueArb } from '../arbitraries.js';
import type { LawGroup } from '../harness.js';
import { CacheModel, cacheCommands } from '../model.js';

const PATTERNS = fc.constantFrom(
  '*',
  'a*',
  '?',
  '??',
  '[ab]',
  '[^a]*',
  'a\\*',
  '\\[a\\]',
  '*b?',
  'é',
  '[a-c]*',
);

/** Law 13 (substitutability), as a model-based run: every adapter answers as the one reference model does. */
export function modelLaws(): LawGroup {
  return {
    name: 'model',
    laws: [
      {
        name: 'a random mix of all nine methods answers exactly as the reference model does',
        run: (ctx) => {
          const manual = ctx.clock === 'manual';
          const ttls = manual
            ? fc.option(
                fc.oneof(fc.integer({ min: 1, max: 10 }), fc.double({ min: 0.001, max: 5, noNaN: true })),
                { nil: undefined },
              )
            : fc.option(fc.integer({ min: 100, max: 10_000 }), { nil: undefined });
          const commands = cacheCommands({
            keys: smallKeyArb,
            values: valueArb,
            patterns: PATTERNS,
            ttls,
            patternDelete: ctx.capabilities.patternDelete,
            ...(manual ? { elapse: (ms: number) => ctx.elapse(ms) } : {}),
          });
          return ctx.check([commands], async (cmds) => {
            const real = await ctx.fresh();
            await fc.asyncModelRun(() => ({ model: new CacheModel(ctx.now), real }), cmds);
          });
        },
      },
    ],
  };
}
