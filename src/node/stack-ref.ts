/**
 * A handle's hold on its NodeStack's event-loop reference: what node's `ref()` / `unref()` of a
 * socket, server or dgram socket mean here. The handle takes the hold while it is active and
 * wanted (`refed`), and lets go when it closes or is unref'd. No RFC: Node semantics.
 */
export class StackRef {
  /** The handle keeps the event loop alive while active (`ref()`, the default) or not (`unref()`). */
  refed = true;
  private holds = false;

  constructor(private readonly stack: { ref(): void; unref(): void }) {}

  /** The handle is active: hold the stack's reference, when refed. */
  take(): void {
    if (this.holds || !this.refed) return;
    this.holds = true;
    this.stack.ref();
  }

  /** The handle closed or was unref'd: let go. */
  drop(): void {
    if (!this.holds) return;
    this.holds = false;
    this.stack.unref();
  }
}
