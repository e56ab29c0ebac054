// Tooltips whose text follows the configuration: the activation's formula and the task's loss.

import { t } from "./i18n.js";

export function createTips(store) {
  const activationTip = document.getElementById("activation-tip");
  const lossTip = document.getElementById("loss-tip");

  function render(state) {
    const current = state.config.activation;
    const others = state.info.choices.activations.filter((name) => name !== current);
    activationTip.dataset.tip = [t(`tip.activation.${current}`), "", ...others.map((name) => t(`tip.activation.${name}`))].join("\n");
    activationTip.setAttribute("aria-label", t(`tip.activation.${current}`));
    const task = state.run?.modelInfo?.task ?? state.preview?.task ?? "binary";
    lossTip.dataset.tip = t(`tip.loss.${task}`);
    lossTip.setAttribute("aria-label", lossTip.dataset.tip);
  }

  store.on(["config", "view", "preview", "run"], render);
  return { render: () => render(store.state) };
}
