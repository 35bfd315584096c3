// A vassal's named timeouts (respawn, curse, heartbeat, loyal): at most one of each, cleared
// by name, forgotten once fired.
export class Timers<K extends string> {
  private readonly pending = new Map<K, NodeJS.Timeout>();

  set(name: K, ms: number, fire: () => void): void {
    this.clear(name);
    this.pending.set(name, setTimeout(() => {
      this.pending.delete(name);
      fire();
    }, ms));
  }

  // Starts it again from now if it is pending, else sets it.
  refresh(name: K, ms: number, fire: () => void): void {
    const t = this.pending.get(name);
    if (t) t.refresh();
    else this.set(name, ms, fire);
  }

  clear(...names: K[]): void {
    for (const name of names) {
      const t = this.pending.get(name);
      if (t) clearTimeout(t);
      this.pending.delete(name);
    }
  }
}
