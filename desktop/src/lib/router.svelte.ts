// Hash routes (`#/accounts`): the embedded front end is one page, so navigation never asks
// the shell for a file. A view is a route in routes.ts; an unknown hash shows the default.

export class Router {
  path = $state("");

  #win: Window;
  #known: (path: string) => boolean;
  #fallback: string;

  constructor(known: (path: string) => boolean, fallback: string, win: Window = window) {
    this.#win = win;
    this.#known = known;
    this.#fallback = fallback;
    this.path = this.#fromHash();
    win.addEventListener("hashchange", () => {
      this.path = this.#fromHash();
    });
  }

  navigate(path: string): void {
    const target = this.#known(path) ? path : this.#fallback;
    if (this.#win.location.hash !== `#${target}`) this.#win.location.hash = target;
    this.path = target;
  }

  #fromHash(): string {
    const path = this.#win.location.hash.replace(/^#/, "");
    return this.#known(path) ? path : this.#fallback;
  }
}
