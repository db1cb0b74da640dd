// A failed request as one line an operator can act on: the fields at fault by name (the
// problem's `errors`, else its `field`), then what the engine said. The engine never quotes a
// personal value in a problem, so neither does this.
import { ApiProblem, CommandError } from "../../backend";

const FIELD_NAMES: Record<string, string> = {
  email: "Email",
  phone: "Phone",
  id: "Lead id",
  subject_id: "Subject id",
  reason: "Reason",
};

function named(field: string): string {
  return FIELD_NAMES[field] ?? field;
}

export function problemText(e: unknown): string {
  if (e instanceof ApiProblem) {
    if (e.errors.length > 0) return e.errors.map((i) => `${named(i.field)}: ${i.problem}`).join("; ");
    const text = e.detail || e.title;
    return e.field ? `${named(e.field)}: ${text}` : text;
  }
  return CommandError.from(e).message;
}
