// The flags of a harness script (`npm run bench`, `npm run chaos`): what `read` makes of them, or,
// when it throws, one error and the usage on stderr and exit 2; --help prints the usage and exits 0.
export function scriptFlags<T extends { help?: boolean }>(command: string, usage: string, read: () => T): T {
  let flags: T;
  try {
    flags = read();
  } catch (error) {
    process.stderr.write(`npm run ${command}: ${(error as Error).message}\n\n${usage}\n`);
    process.exit(2);
  }
  if (flags.help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  return flags;
}
