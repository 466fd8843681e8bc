// Fitting a relayed log line to a terminal's width (npm start on a terminal): pure, so unit-tested.

/**
 * A relayed line as it fits a terminal `columns` wide: a pretty info, debug or trace line longer than
 * that is cut to one row, ending in '…' (`LOG_FORMAT=json npm start` prints every line whole).
 * Anything else is kept whole: a warning or error and the lines that follow it (its `err`), since
 * their detail is why someone reads them, and whatever is not a log line. Colour codes take no
 * width, and the cut closes any colour left open.
 */
export function fitToWidth(line: string, columns: number | undefined): string {
  if (!columns || columns < 20 || !ROUTINE.test(stripColour(line))) return line;
  let visible = 0;
  for (let i = 0; i < line.length; ) {
    const colour = COLOUR_AT_START.exec(line.slice(i, i + 16));
    if (colour) {
      i += colour[0].length;
      continue;
    }
    const char = String.fromCodePoint(line.codePointAt(i) as number);
    // Cut only if something visible follows: colour codes alone after the last column take no width.
    if (++visible === columns && stripColour(line.slice(i + char.length)).length > 0)
      return `${line.slice(0, i)}…\u001b[0m`;
    i += char.length;
  }
  return line;
}

// SGR colour codes (ESC [ … m), built from a string: the ESC control character in a regex literal is
// what a linter rightly flags as a likely mistake elsewhere.
const ESC = '\u001b';
const COLOUR = new RegExp(`${ESC}\\[[0-9;]*m`, 'g');
const COLOUR_AT_START = new RegExp(`^${ESC}\\[[0-9;]*m`);
/** The text as a terminal shows it. */
export const stripColour = (text: string) => text.replace(COLOUR, '');
/** pino-pretty's line for a record below warn: `[HH:MM:ss.l] INFO (name): …`. */
const ROUTINE = /\] (INFO|DEBUG|TRACE) \(/;
