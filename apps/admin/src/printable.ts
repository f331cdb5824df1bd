/**
 * Names, remarks and log fields printed to a terminal come from the network (any client names its
 * groups): control characters in them could move the cursor, clear the screen or forge lines.
 * They are shown as escapes instead, so nothing is lost and nothing is executed by the terminal.
 */

// C0 controls, DEL, C1 controls, and the Unicode line and paragraph separators.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/** `text` with every control character as `\xNN` (or `\uNNNN`), safe to print on one line. */
export function printable(text: string): string {
  return text.replace(CONTROL, (ch) => {
    const code = ch.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
