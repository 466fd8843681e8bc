// djq's help and suggestions, and the shape of a completed job's result in `history --json`.
import { describe, expect, it } from 'vitest';
import { parseResult } from '../../cli/commands/history.js';
import { COMMANDS, commandHelp } from '../../cli/usage.js';
import { distance, nearest } from '../../shared/runtime/flags.js';

describe('nearest', () => {
  it.each([
    ['exatc', ['exact', 'json'], 'exact'],
    ['rebuld', ['verify', 'rebuild', 'force'], 'rebuild'],
    ['stat', ['stats', 'history'], 'stats'],
    ['js', ['json', 'aws'], 'json'],
    ['zzzzzz', ['exact', 'json'], undefined],
  ] as const)('%s among %j: %s', (word, candidates, expected) => {
    expect(nearest(word, candidates)).toBe(expected);
  });

  it('distance counts edits', () => {
    expect(distance('kitten', 'sitting')).toBe(3);
    expect(distance('', 'abc')).toBe(3);
    expect(distance('same', 'same')).toBe(0);
  });
});

describe('command help', () => {
  it.each(Object.keys(COMMANDS))('%s has a usage line and an example', (command) => {
    const text = commandHelp(command);
    expect(text).toMatch(new RegExp(`^Usage: djq ${command}`));
    expect(text).toMatch(/Examples?:\n {2}npm run -s djq -- /);
  });
});

describe('parseResult', () => {
  it('turns "<op> <JSON>" into an object', () => {
    expect(parseResult('create-user {"userId":"u1","version":1}')).toEqual({
      op: 'create-user',
      userId: 'u1',
      version: 1,
    });
  });

  it('keeps a sentence as a note', () => {
    expect(parseResult('its effect had landed before it failed: settled as completed')).toEqual({
      note: 'its effect had landed before it failed: settled as completed',
    });
  });
});
