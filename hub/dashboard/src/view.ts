/** One page of the dashboard as the router holds it: built once, then kept up to date in place. */
export interface View {
  /** What the browser tab says while the page is open. */
  title: string;
  root: HTMLElement;
  /** Re-reads what the page shows and changes only what differs (live updates, recovery after a lost connection). */
  refresh(): Promise<void>;
  dispose?(): void;
}
