import { describe, expect, it } from 'vitest';
import { fitToWidth, stripColour as visible } from '../../stack/fit-width.js';

const red = (text: string) => `\u001b[31m${text}\u001b[0m`;

describe('fitToWidth (npm start relaying a log line to a terminal)', () => {
  it('cuts a long info line to one row ending in an ellipsis', () => {
    const line = `[worker-1] [00:49:13.062] INFO (worker): worker ready {"workerId":"worker-1","queue":"${'x'.repeat(200)}"}`;
    const fitted = fitToWidth(line, 80);
    expect(visible(fitted)).toHaveLength(80);
    expect(visible(fitted).endsWith('…')).toBe(true);
    expect(line.startsWith(visible(fitted).slice(0, 79))).toBe(true);
  });

  it('does not count colour codes as width, and closes a colour the cut leaves open', () => {
    const line = `${red('[worker-1]')} [00:49:13.062] \u001b[32mINFO\u001b[39m (worker): ${'y'.repeat(100)}`;
    const fitted = fitToWidth(line, 50);
    const shown = '[worker-1] [00:49:13.062] INFO (worker): ';
    expect(visible(fitted)).toBe(`${shown}${'y'.repeat(50 - 1 - shown.length)}…`);
    expect(fitted.endsWith('\u001b[0m')).toBe(true);
  });

  it('leaves a line that fits exactly, and one with no width to fit (not a terminal)', () => {
    const exact = `[w] [00:00:00.000] INFO (w): ${'z'.repeat(50)}`;
    expect(fitToWidth(exact, exact.length)).toBe(exact);
    expect(fitToWidth(`${exact}!`, undefined)).toBe(`${exact}!`);
  });

  it('leaves a coloured line that fits exactly: a colour code after its last character is no width', () => {
    // pino-pretty colours the message and closes it at the end of the line.
    const exact = `[w] [00:00:00.000] \u001b[32mINFO\u001b[39m (w): \u001b[36m${'z'.repeat(50)}\u001b[39m`;
    expect(fitToWidth(exact, visible(exact).length)).toBe(exact);
    expect(visible(fitToWidth(exact, visible(exact).length - 1)).endsWith('z…')).toBe(true);
  });

  it('keeps warnings, errors, their err lines and anything not a routine log line whole', () => {
    for (const level of ['WARN', 'ERROR', 'FATAL']) {
      const line = `[worker-1] [00:49:13.062] ${red(level)} (worker): DynamoDB unreachable ${'e'.repeat(200)}`;
      expect(fitToWidth(line, 80)).toBe(line);
    }
    const err = `[worker-1]     err: "user 0ca972cd does not exist (yet): ${'e'.repeat(200)}"`;
    const json = `[worker-1] {"level":30,"msg":"worker ready","queue":"${'q'.repeat(200)}"}`;
    for (const line of [err, json, `[worker-1] Error: boom ${'s'.repeat(200)}`])
      expect(fitToWidth(line, 80)).toBe(line);
  });

  it('never splits a character made of two UTF-16 units', () => {
    const prefix = '[w] [00:00:00.000] INFO (w): ';
    expect(visible(fitToWidth(`${prefix}${'🙂'.repeat(30)}`, prefix.length + 21))).toBe(`${prefix}${'🙂'.repeat(20)}…`);
  });
});
