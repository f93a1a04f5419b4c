export async function runSim(_opts: unknown): Promise<void> {}
