import pg from 'pg';
import { runAsWorker } from 'synckit';

/**
 * The thread behind pg.ts's synchronous sessions: one PostgreSQL client per session id. bigint columns (offsets,
 * ids) come back as numbers: they stay far below 2^53.
 */
const clients = new Map<number, pg.Client>();
const types = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === 20 ? Number : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

// Bytes arrive as Uint8Array (structured clone); pg sends a Buffer as bytea.
const values = (params: unknown[]) =>
  params.map((p) => (p instanceof Uint8Array ? Buffer.from(p.buffer, p.byteOffset, p.byteLength) : p));

runAsWorker(async (op: 'open' | 'query' | 'batch' | 'close', id: number, arg: string, params: unknown[] = []) => {
  if (op === 'open') {
    const client = new pg.Client({ connectionString: arg, types });
    // A lost connection fails the session's next query (pg says why); it must not end this thread.
    client.on('error', () => undefined);
    await client.connect();
    clients.set(id, client);
    return [];
  }
  const client = clients.get(id);
  if (op === 'close') {
    clients.delete(id);
    await client?.end();
    return [];
  }
  if (!client) throw new Error('the session is closed');
  if (op === 'batch') {
    // Several statements for one wait of the calling thread; the first that fails ends the batch.
    const results: unknown[][] = [];
    for (const [sql, ps] of params as Array<[string, unknown[]]>)
      results.push((await client.query(sql, values(ps))).rows);
    return results;
  }
  return (await client.query(arg, values(params))).rows as unknown[];
});
