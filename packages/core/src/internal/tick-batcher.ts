/**
 * Gathers what is issued within one tick into one batch, sent when the tick ends (after every promise reaction of
 * it, so that concurrent callers land together) or as soon as it is full: how a backend turns many concurrent calls
 * into one command each way.
 */
export class TickBatcher<B> {
  readonly #create: () => B;
  readonly #send: (batch: B) => void;
  readonly #isFull: (batch: B) => boolean;
  #batch: B | undefined;

  /** `create` makes an empty batch, `send` sends one, `isFull` says when one must go at once. */
  constructor(create: () => B, send: (batch: B) => void, isFull: (batch: B) => boolean) {
    this.#create = create;
    this.#send = send;
    this.#isFull = isFull;
  }

  /** The batch of this tick, opened (and its sending scheduled) if there is none. */
  current(): B {
    let batch = this.#batch;
    if (batch === undefined) {
      const opened = this.#create();
      this.#batch = batch = opened;
      process.nextTick(() => this.#flush(opened));
    }
    return batch;
  }

  /** The batch of this tick if one is open. */
  get pending(): B | undefined {
    return this.#batch;
  }

  /** Sends the current batch now if it is full. */
  sendIfFull(): void {
    const batch = this.#batch;
    if (batch !== undefined && this.#isFull(batch)) this.#flush(batch);
  }

  /** Sends the current batch, if any, now. */
  sendNow(): void {
    if (this.#batch !== undefined) this.#flush(this.#batch);
  }

  /** Forgets the current batch unsent, returning it (the owner is closing and settles its callers). */
  take(): B | undefined {
    const batch = this.#batch;
    this.#batch = undefined;
    return batch;
  }

  #flush(batch: B): void {
    if (this.#batch !== batch) return;
    this.#batch = undefined;
    this.#send(batch);
  }
}
