// `npm run bench -- --help` and `npm run chaos -- --help` as a user types them (real child
// processes): the help with an example, exit 0, and nothing run; an unknown flag is exit 2, naming the nearest one.
import { describe, expect, it } from 'vitest';
import { startService } from '../helpers/processes.js';

async function run(file: string, ...args: string[]) {
  const child = startService(file, {}, args);
  const { code } = await child.exited;
  return { code, output: child.output() };
}

describe.each([
  ['bench/run.ts', 'npm run bench', /npm run bench -- --quick --only=overhead,e2e/],
  ['chaos/run.ts', 'npm run chaos', /npm run chaos -- --only kill-workers,poison --small/],
])('%s', (file, command, example) => {
  it('--help prints the usage and an example, exit 0, and runs nothing', async () => {
    for (const flag of ['--help', '-h']) {
      const { code, output } = await run(file, flag);
      expect(code, output).toBe(0);
      expect(output.startsWith(`Usage: ${command}`)).toBe(true);
      // The usage and nothing after it: its last line is the example.
      expect(output.trim().split('\n').at(-1)).toMatch(example);
    }
  });

  it('an unknown flag is exit 2 with the nearest flag and the usage', async () => {
    const { code, output } = await run(file, '--quik');
    expect(code).toBe(2);
    const near = command === 'npm run bench' ? ': did you mean --quick?' : '';
    expect(output.startsWith(`${command}: unknown option --quik${near}\n`), output).toBe(true);
    expect(output).toContain(`Usage: ${command}`);
  });
});
