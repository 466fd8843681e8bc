// `npm start`'s flags: parsed strictly, one clear error for anything malformed.
import { describe, expect, it } from 'vitest';
import { parseStackArgs, STACK_USAGE } from '../../stack/args.js';

describe('parseStackArgs', () => {
  it('has defaults for no flags, and no capacity limit', () => {
    expect(parseStackArgs([])).toEqual({ workers: 2, untilDrained: false, json: false, help: false });
  });

  it('--capacity N: N read and N write units per second', () => {
    expect(parseStackArgs(['--capacity', '200']).capacity).toBe(200);
    expect(parseStackArgs(['--capacity=1']).capacity).toBe(1);
  });

  it.each(['0', '-5', '1.5', '2e3', 'lots', ''])('--capacity %j is refused', (value) => {
    expect(() => parseStackArgs([`--capacity=${value}`])).toThrow(
      `--capacity needs a whole number >= 1, got "${value}"`,
    );
  });

  it('--capacity needs a value', () => {
    expect(() => parseStackArgs(['--capacity'])).toThrow(/--capacity/);
  });

  it('the help text documents --capacity', () => {
    expect(STACK_USAGE).toMatch(/--capacity N/);
  });

  it('--timeout S goes with --until-drained', () => {
    expect(parseStackArgs(['--until-drained', '--timeout', '60']).timeout).toBe(60);
    expect(() => parseStackArgs(['--timeout', '60'])).toThrow('--timeout goes with --until-drained');
    expect(() => parseStackArgs(['--until-drained', '--timeout', '0'])).toThrow(/--timeout needs a whole number/);
  });

  it('an unknown flag or a stray argument is an error', () => {
    expect(() => parseStackArgs(['--capacities', '3'])).toThrow(/--capacities/);
    expect(() => parseStackArgs(['--worker', '3'])).toThrow('unknown option --worker: did you mean --workers?');
    expect(() => parseStackArgs(['200'])).toThrow('unexpected argument "200"');
  });
});
