// The engine's compile errors and warnings as CodeMirror diagnostics, at the line and column
// the API gives (1-based; the column counts characters, not UTF-16 units).
import type { Text } from "@codemirror/state";
import type { Diagnostic } from "@codemirror/lint";
import type { CheckDiagnostic } from "../../../generated/CheckDiagnostic";
import { ApiProblem } from "../../backend";

/** The document offset of 1-based `line` and character `column` (clamped into the text). */
export function offsetOf(doc: Text, line: number | null, column: number | null): number {
  if (line === null || line < 1) return 0;
  if (line > doc.lines) return doc.length;
  const l = doc.line(line);
  if (column === null || column <= 1) return l.from;
  // Walk code points: an emoji before the error counts as one column.
  let offset = 0;
  let seen = 1;
  for (const ch of l.text) {
    if (seen === column) break;
    offset += ch.length;
    seen++;
  }
  return l.from + Math.min(offset, l.length);
}

/** From `from`, the word there (or one character), never past the line's end. */
function spanEnd(doc: Text, from: number): number {
  const l = doc.lineAt(from);
  const rest = l.text.slice(from - l.from);
  const word = /^[A-Za-z0-9_.]+/.exec(rest);
  if (word) return from + word[0].length;
  return Math.min(l.to, from + 1);
}

export function toDiagnostic(doc: Text, d: CheckDiagnostic): Diagnostic {
  const from = offsetOf(doc, d.line, d.column);
  const where = d.line !== null ? `line ${d.line}${d.column !== null ? `, column ${d.column}` : ""}: ` : "";
  return {
    from,
    to: spanEnd(doc, from),
    severity: d.severity === "warning" ? "warning" : "error",
    message: `${where}${d.message}`,
    source: "leadorch rules check",
  };
}

/** A refusal of a save or run that names a place in the source (`does-not-compile`). */
export function problemDiagnostic(doc: Text, p: unknown): Diagnostic | null {
  if (!(p instanceof ApiProblem) || p.line === undefined) return null;
  return toDiagnostic(doc, {
    severity: "error",
    line: p.line,
    column: p.column ?? null,
    message: p.detail || p.title,
  });
}
