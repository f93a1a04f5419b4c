import Database from 'libsql';

/** Drops the login sessions a stopped hub kept in its hub.db (the default engine): a restart that loses them. */
export function forgetSessions(file: string): void {
  const db = new Database(file);
  try {
    db.prepare('delete from document where name = ?').run(['sessions.json']);
  } finally {
    db.close();
  }
}
