// The CodeMirror 6 editors of the Rules view. Each lives in a shadow root: CodeMirror's
// styles (style-mod) then go to the root's constructed style sheets instead of a <style>
// element, which the app's CSP (`style-src 'self'`) would refuse. Colours are the theme's
// CSS variables, which inherit into the shadow root.
import { autocompletion, closeBrackets, closeBracketsKeymap, completionKeymap } from "@codemirror/autocomplete";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import {
  bracketMatching,
  HighlightStyle,
  indentOnInput,
  syntaxHighlighting,
} from "@codemirror/language";
import { forceLinting, forEachDiagnostic, lintGutter, linter, lintKeymap, setDiagnostics, type Diagnostic } from "@codemirror/lint";
import { highlightSelectionMatches, searchKeymap } from "@codemirror/search";
import { EditorState, type Extension } from "@codemirror/state";
import {
  drawSelection,
  EditorView,
  highlightActiveLine,
  highlightActiveLineGutter,
  highlightSpecialChars,
  keymap,
  lineNumbers,
} from "@codemirror/view";
import { tags as t } from "@lezer/highlight";
import { rhaiCompletion } from "./reference";
import { rhaiLanguage } from "./rhai";

const highlight = HighlightStyle.define([
  { tag: [t.keyword, t.modifier], color: "var(--syntax-keyword)", fontWeight: "600" },
  { tag: [t.string, t.special(t.string)], color: "var(--syntax-string)" },
  { tag: [t.number, t.atom, t.bool], color: "var(--syntax-number)" },
  { tag: t.comment, color: "var(--syntax-comment)", fontStyle: "italic" },
  { tag: t.meta, color: "var(--syntax-meta)", fontWeight: "600" },
  { tag: t.operator, color: "var(--syntax-operator)" },
  { tag: t.function(t.variableName), color: "var(--syntax-function)" },
  { tag: t.propertyName, color: "var(--syntax-property)" },
]);

const theme = EditorView.theme({
  "&": {
    height: "100%",
    color: "var(--text)",
    backgroundColor: "var(--bg-input)",
    fontSize: "var(--text-md)",
  },
  "&.cm-focused": { outline: "none" },
  ".cm-scroller": { fontFamily: "var(--font-mono)", lineHeight: "1.55" },
  // tab-size here: CodeMirror's own is a style attribute, which the CSP refuses.
  ".cm-content": { caretColor: "var(--text)", padding: "6px 0", tabSize: "4" },
  ".cm-cursor, .cm-dropCursor": { borderLeftColor: "var(--text)" },
  "&.cm-focused > .cm-scroller > .cm-selectionLayer .cm-selectionBackground, .cm-selectionBackground, ::selection":
    { backgroundColor: "var(--accent-subtle)" },
  ".cm-gutters": {
    backgroundColor: "var(--bg-subtle)",
    color: "var(--text-faint)",
    borderRight: "1px solid var(--border)",
  },
  ".cm-activeLine": { backgroundColor: "var(--bg-hover)" },
  ".cm-activeLineGutter": { backgroundColor: "var(--bg-active)", color: "var(--text-muted)" },
  ".cm-matchingBracket": { backgroundColor: "var(--bg-active)", outline: "1px solid var(--border-strong)" },
  ".cm-tooltip": {
    backgroundColor: "var(--bg)",
    color: "var(--text)",
    border: "1px solid var(--border-strong)",
    borderRadius: "var(--radius-md)",
    boxShadow: "var(--shadow-lg)",
    fontFamily: "var(--font-ui)",
  },
  ".cm-tooltip-autocomplete ul li[aria-selected]": { backgroundColor: "var(--accent)", color: "var(--accent-text)" },
  ".cm-completionInfo": { maxWidth: "360px", padding: "4px 8px" },
  ".cm-diagnostic": { padding: "4px 8px", fontFamily: "var(--font-ui)" },
  ".cm-diagnostic-error": { borderLeft: "4px solid var(--danger)" },
  ".cm-diagnostic-warning": { borderLeft: "4px solid var(--warn)" },
  ".cm-lintRange-error": { backgroundImage: "none", textDecoration: "underline wavy var(--danger)" },
  ".cm-lintRange-warning": { backgroundImage: "none", textDecoration: "underline wavy var(--warn)" },
  ".cm-lint-marker-error": { content: "none" },
  ".cm-panels": { backgroundColor: "var(--bg-subtle)", color: "var(--text)" },
  ".cm-panels.cm-panels-bottom": { borderTop: "1px solid var(--border)" },
  ".cm-searchMatch": { backgroundColor: "var(--warn-subtle)" },
  ".cm-changedLine": { backgroundColor: "var(--ok-subtle) !important" },
  ".cm-changedText": { background: "color-mix(in srgb, var(--ok) 30%, transparent) !important" },
  ".cm-deletedChunk": { backgroundColor: "var(--danger-subtle) !important" },
  ".cm-deletedChunk .cm-deletedText, del": { background: "color-mix(in srgb, var(--danger) 30%, transparent) !important" },
  ".cm-mergeView": { height: "100%" },
  ".cm-mergeViewEditors": { minHeight: "100%" },
});

/** A shadow root in `host` with one element to mount an editor in. */
export function shadowMount(host: HTMLElement): { root: ShadowRoot; parent: HTMLElement } {
  const root = host.shadowRoot ?? host.attachShadow({ mode: "open" });
  root.replaceChildren();
  const parent = document.createElement("div");
  parent.className = "cm-host";
  // CSSOM, not a style attribute: allowed by the CSP.
  parent.style.height = "100%";
  root.append(parent);
  return { root, parent };
}

export interface RuleEditorOptions {
  doc: string;
  /** The accessible name of the text area. */
  label: string;
  /** Every edit. */
  onChange: (source: string) => void;
  /** The engine's diagnostics for a source (debounced by the linter). */
  check: (source: string) => Promise<Diagnostic[]>;
  /** Ctrl/Cmd+S. */
  onSave: () => void;
  /** Ctrl/Cmd+Enter. */
  onDryRun: () => void;
  /** Called after each check with its diagnostics (for the count above the editor). */
  onDiagnostics?: (d: readonly Diagnostic[]) => void;
}

export interface RuleEditor {
  view: EditorView;
  /** Replaces the whole text (another rule or version opened). */
  setDoc(doc: string): void;
  /** Shows diagnostics now (a save refused at a line), until the next check. */
  show(diagnostics: Diagnostic[]): void;
  /** Runs the check again now. */
  recheck(): void;
  destroy(): void;
}

export function rhaiExtensions(): Extension[] {
  return [
    rhaiLanguage,
    syntaxHighlighting(highlight),
    theme,
    EditorState.tabSize.of(4),
  ];
}

export function createRuleEditor(host: HTMLElement, o: RuleEditorOptions): RuleEditor {
  const { root, parent } = shadowMount(host);
  let replacing = false;
  let shownKey = "";
  const view = new EditorView({
    root,
    parent,
    state: EditorState.create({
      doc: o.doc,
      extensions: [
        lineNumbers(),
        highlightActiveLineGutter(),
        highlightSpecialChars(),
        history(),
        drawSelection(),
        indentOnInput(),
        bracketMatching(),
        closeBrackets(),
        highlightActiveLine(),
        highlightSelectionMatches(),
        autocompletion({ override: [rhaiCompletion], icons: false }),
        lintGutter(),
        linter(
          async (v) => {
            const source = v.state.doc.toString();
            if (!source.trim()) return [];
            try {
              return await o.check(source);
            } catch {
              return []; // the check itself failed: the banner above says so
            }
          },
          { delay: 300 },
        ),
        EditorView.updateListener.of((u) => {
          if (u.docChanged && !replacing) o.onChange(u.state.doc.toString());
          if (!o.onDiagnostics) return;
          const now: Diagnostic[] = [];
          forEachDiagnostic(u.state, (d, from, to) => now.push({ ...d, from, to }));
          const key = now.map((d) => `${d.from}:${d.to}:${d.severity}:${d.message}`).join("\n");
          if (key !== shownKey) {
            shownKey = key;
            o.onDiagnostics(now);
          }
        }),
        keymap.of([
          { key: "Mod-s", preventDefault: true, run: () => (o.onSave(), true) },
          { key: "Mod-Enter", preventDefault: true, run: () => (o.onDryRun(), true) },
          ...closeBracketsKeymap,
          ...defaultKeymap,
          ...searchKeymap,
          ...historyKeymap,
          ...completionKeymap,
          ...lintKeymap,
          indentWithTab,
        ]),
        EditorView.contentAttributes.of({
          "aria-label": o.label,
          "data-testid": "rule-source",
        }),
        ...rhaiExtensions(),
      ],
    }),
  });
  return {
    view,
    setDoc(doc) {
      if (doc === view.state.doc.toString()) return;
      replacing = true;
      try {
        view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: doc } });
      } finally {
        replacing = false;
      }
    },
    show(diagnostics) {
      view.dispatch(setDiagnostics(view.state, diagnostics));
    },
    recheck() {
      forceLinting(view);
    },
    destroy() {
      view.destroy();
    },
  };
}
