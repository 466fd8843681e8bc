// djq as an operator runs it, from a test: a real child process with the test's environment and
// --json, its report parsed. The child goes into `started`, so the file's cleanup kills it if the
// test fails while it runs.
import { type Service, startService } from './processes.js';

export async function djqJson<T>(
  env: Record<string, string>,
  args: readonly string[],
  started: Service[],
): Promise<{ code: number | null; data: T; output: string }> {
  const cli = startService('cli/djq.ts', env, [...args, '--json']);
  started.push(cli);
  const { code } = await cli.exited;
  const output = cli.output();
  // The report is the first line that opens a JSON object or array (log lines may come before it).
  const at = output.search(/^[[{]/m);
  return { code, data: JSON.parse(at >= 0 ? output.slice(at) : output) as T, output };
}
