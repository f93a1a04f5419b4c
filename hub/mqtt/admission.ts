/** One admitted connection that has not logged in yet: tell the admission when it does, or when it closes. */
export interface PendingLogin {
  loggedIn(): void;
  closed(): void;
}

/**
 * Connections that have not logged in yet, counted per source address and in all: past either cap a new one is
 * refused before a byte of it is read. Logged-in connections do not count (their number is bounded by credentials).
 */
export class LoginAdmission {
  private readonly perAddress = new Map<string, number>();
  private total = 0;

  constructor(private readonly limits: { perAddress: number; total: number }) {}

  /** The pending login's handle, or why it is refused. */
  admit(address: string): PendingLogin | string {
    const mine = this.perAddress.get(address) ?? 0;
    if (mine >= this.limits.perAddress)
      return `${mine} connections from this address have not logged in yet (mqtt.limits.maxPendingPerAddress)`;
    if (this.total >= this.limits.total)
      return `${this.total} connections have not logged in yet (mqtt.limits.maxPendingTotal)`;
    this.perAddress.set(address, mine + 1);
    this.total += 1;
    let pending = true;
    const leave = () => {
      if (!pending) return;
      pending = false;
      this.total -= 1;
      const left = (this.perAddress.get(address) ?? 1) - 1;
      if (left > 0) this.perAddress.set(address, left);
      else this.perAddress.delete(address);
    };
    return { loggedIn: leave, closed: leave };
  }

  get pending(): number {
    return this.total;
  }
}
