// The side-by-side diff of two versions (@codemirror/merge), loaded with the History tab.
import { MergeView } from "@codemirror/merge";
import { EditorState } from "@codemirror/state";
import { EditorView, lineNumbers } from "@codemirror/view";
import { rhaiExtensions, shadowMount } from "./editor";

/** A read-only side-by-side view of two sources (version A left, B right). */
export function createDiff(host: HTMLElement, a: string, b: string): { destroy(): void } {
  const { root, parent } = shadowMount(host);
  const readOnly = [EditorState.readOnly.of(true), EditorView.editable.of(false), lineNumbers(), ...rhaiExtensions()];
  const merge = new MergeView({
    a: { doc: a, extensions: readOnly },
    b: { doc: b, extensions: readOnly },
    parent,
    root,
    collapseUnchanged: { margin: 3, minSize: 6 },
    gutter: true,
  });
  return { destroy: () => merge.destroy() };
}
