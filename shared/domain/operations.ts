// The six operations of the seed demo, by their short mix key and their job name.
export const OPERATIONS = {
  create: 'create-user',
  get: 'get-user',
  update: 'update-user',
  query: 'query-by-department',
  delete: 'delete-user',
  batch: 'batch-create-users',
} as const;

export type OperationKey = keyof typeof OPERATIONS;
export type JobName = (typeof OPERATIONS)[OperationKey];
export const OPERATION_KEYS = Object.keys(OPERATIONS) as OperationKey[];
export const JOB_NAMES = Object.values(OPERATIONS) as JobName[];

/**
 * Parses `create=30,get=25,...` into weights. Keys left out weigh 0; at least one weight must be
 * positive. Throws an Error whose message says exactly what is wrong.
 */
export function parseOperationMix(text: string): Record<OperationKey, number> {
  const mix = Object.fromEntries(OPERATION_KEYS.map((k) => [k, 0])) as Record<OperationKey, number>;
  const seen = new Set<string>();
  for (const part of text.split(',')) {
    const entry = part.trim();
    if (entry === '') continue;
    const match = /^([a-z-]+)\s*=\s*(\d+(?:\.\d+)?)$/.exec(entry);
    if (!match) throw new Error(`"${entry}" is not key=weight (e.g. create=30)`);
    const [, key = '', weight = '0'] = match;
    if (!(key in OPERATIONS)) {
      throw new Error(`unknown operation "${key}" (known: ${OPERATION_KEYS.join(', ')})`);
    }
    if (seen.has(key)) throw new Error(`operation "${key}" is given twice`);
    seen.add(key);
    mix[key as OperationKey] = Number(weight);
  }
  if (OPERATION_KEYS.every((k) => mix[k] === 0)) throw new Error('at least one operation needs a positive weight');
  return mix;
}
