// A vassal's named timeouts (respawn, curse, heartbeat, loyal): at most one of each, cleared
// by name, forgotten once fired.
export class Timers<K extends string> {
  private readonly pending = new Map<K, NodeJS.Timeout>();
  /** When each pending one fires (ms since the epoch). */
  private readonly dueAt = new Map<K, number>();

  set(name: K, ms: number, fire: () => void): void {
    this.clear(name);
    this.dueAt.set(name, Date.now() + ms);
    this.pending.set(name, setTimeout(() => {
      this.pending.delete(name);
      this.dueAt.delete(name);
      fire();
    }, ms));
  }

  /** When `name` fires, if it is pending. */
  due(name: K): number | undefined {
    return this.dueAt.get(name);
  }

  // Starts it again from now if it is pending, else sets it.
  refresh(name: K, ms: number, fire: () => void): void {
    const t = this.pending.get(name);
    if (!t) return this.set(name, ms, fire);
    t.refresh();
    this.dueAt.set(name, Date.now() + ms);
  }

  clear(...names: K[]): void {
    for (const name of names) {
      const t = this.pending.get(name);
      if (t) clearTimeout(t);
      this.pending.delete(name);
      this.dueAt.delete(name);
    }
  }
}
