// The page's three views, chosen in the bar above the workbench: the playground, two runs side by
// side, a capacity sweep. The body's data-mode says which, and the style sheets show its cards.

import { t } from "./i18n.js";

export function createModes(store) {
  const nav = document.querySelector(".modes");
  const buttons = [...nav.querySelectorAll("[data-mode]")];
  const hint = document.getElementById("mode-hint");

  nav.addEventListener("click", (event) => {
    const button = event.target.closest("[data-mode]");
    if (button) store.set({ view: { ...store.state.view, mode: button.dataset.mode } });
  });

  function render(state = store.state) {
    const mode = state.view.mode;
    document.body.dataset.mode = mode;
    for (const button of buttons) button.setAttribute("aria-pressed", String(button.dataset.mode === mode));
    hint.textContent = t(`mode.${mode}_hint`);
  }
  store.on(["view"], render);
  return { render };
}
