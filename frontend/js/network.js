// The network drawn as it trains: the input features (checkboxes with their pictures), each
// hidden layer's neurons with a small map of its output over the plane, the output; links
// coloured by the weight's sign (blue +, orange −) and as thick as the weight is large. On a
// paused run a click on a link opens its neuron's detail at that weight, to be set by hand;
// the forward pass lights the neuron (or link) whose number is hovered.

import { paintFeature, paintOutput, paintSigned } from "./canvas-map.js";
import { BLUE, ORANGE } from "./colors.js";
import { formatFixed, formatInteger } from "./format.js";
import { element } from "./html.js";
import { t } from "./i18n.js";
import { featureLabel, hiddenLabel, inputLabel } from "./notation.js";
import { canSetWeights } from "./run.js";
import { hasPlane } from "./state.js";

const MAX_SHOWN = 16; // neurons drawn per layer; wider layers say how many more they have
const SVG_NS = "http://www.w3.org/2000/svg";

export function createNetworkView(store) {
  const root = document.getElementById("network");
  const body = root.querySelector(".net-body");
  const svg = root.querySelector(".net-links");
  const inputsColumn = root.querySelector(".net-inputs");
  const featureBoxes = root.querySelector(".feature-boxes");
  const hiddenColumns = root.querySelector(".net-hidden");
  const outputColumn = root.querySelector(".net-output");
  const layerControls = root.querySelector(".net-layer-controls");
  const caption = document.getElementById("network-caption");

  let drawn = null; // the architecture on screen
  let columns = []; // per column: [{element, canvas, index}] of the nodes drawn
  let links = []; // {k, from, to, path}

  function architecture(state) {
    const { config, preview, run, info } = state;
    const info2d = preview ? preview.extent !== null : config.dataset !== "csv" && hasPlane(state, config.dataset);
    const task = preview?.task ?? run?.modelInfo?.task ?? "binary";
    const columns = preview?.input_names ?? run?.modelInfo?.input_names;
    const inputs = info2d ? config.features : (columns ?? []);
    const classes = preview?.class_names?.length ?? config.classes;
    return {
      is2d: info2d,
      allFeatures: info.choices.features,
      columns: info2d && columns?.length === 2 ? columns : ["x1", "x2"], // what x1 and x2 are called
      inputs,
      hidden: config.hidden,
      outputs: task === "multiclass" ? classes : 1,
      task,
      extent: preview?.extent ?? null,
    };
  }

  // --- building the drawing --------------------------------------------------------------------

  function build(arch) {
    drawn = arch;
    const depth = arch.hidden.length;
    root.style.setProperty("--depth", String(Math.max(depth, 1)));
    root.classList.toggle("no-hidden", depth === 0);

    // Inputs: on 2-D data every feature, with a checkbox each (in their own column, which a
    // teacher may hide); otherwise the table's columns, as they are.
    const inputNodes = [];
    if (arch.is2d) {
      featureBoxes.replaceChildren(
        ...arch.allFeatures.map((feature) => {
          const row = element("div", { class: "feature-box" });
          const box = element("input", { type: "checkbox", name: "feature", value: feature, id: `feature-${feature}` });
          box.checked = arch.inputs.includes(feature);
          box.setAttribute("aria-label", describeFeature(feature, arch.columns));
          row.append(box);
          return row;
        }),
      );
      inputsColumn.replaceChildren(
        ...arch.allFeatures.map((feature) => {
          const on = arch.inputs.includes(feature);
          const row = element("label", { class: `input-row${on ? " on" : ""}`, for: `feature-${feature}` });
          const node = element("span", { class: "input-node" });
          const canvas = element("canvas", { width: 20, height: 20 });
          node.append(canvas);
          row.append(element("span", { class: "input-label" }, featureLabel(feature, arch.columns)), node);
          row.title = describeFeature(feature, arch.columns);
          if (on) inputNodes.push({ element: node, canvas, index: arch.inputs.indexOf(feature), feature });
          return row;
        }),
      );
      inputNodes.sort((a, b) => a.index - b.index);
    } else {
      featureBoxes.replaceChildren();
      const shown = arch.inputs.length > MAX_SHOWN ? arch.inputs.slice(0, MAX_SHOWN - 1) : arch.inputs;
      inputsColumn.replaceChildren(
        ...shown.map((name, index) => {
          const row = element("div", { class: "input-row on plain" });
          const node = element("span", { class: "input-node" });
          row.append(element("span", { class: "input-label" }, inputLabel(name)), node);
          row.title = inputLabel(name);
          inputNodes.push({ element: node, canvas: null, index });
          return row;
        }),
      );
      if (shown.length < arch.inputs.length) {
        inputsColumn.append(element("div", { class: "input-row plain more" }, `+${formatInteger(arch.inputs.length - shown.length)}`));
      }
    }
    inputsColumn.classList.toggle("compact", inputsColumn.children.length > 8);
    featureBoxes.setAttribute("aria-label", t("control.features"));

    // Hidden layers and their +/− buttons, one column each.
    columns = [inputNodes];
    hiddenColumns.replaceChildren();
    layerControls.replaceChildren();
    arch.hidden.forEach((width, layer) => {
      const column = element("div", { class: "net-column" });
      columns.push(neuronNodes(column, layer + 1, width));
      hiddenColumns.append(column);
      const control = element("div", { class: "layer-control" });
      const minus = element("button", { type: "button", class: "layer-minus", "data-layer": layer }, "−");
      const plus = element("button", { type: "button", class: "layer-plus", "data-layer": layer }, "+");
      minus.disabled = width <= 1;
      plus.disabled = width >= store.state.info.limits.max_width;
      minus.title = t("control.layer_minus", { layer: layer + 1 });
      plus.title = t("control.layer_plus", { layer: layer + 1 });
      minus.setAttribute("aria-label", minus.title);
      plus.setAttribute("aria-label", plus.title);
      const count = element("span", { class: "layer-count" }, t("network.neurons", { count: width }));
      control.append(minus, count, plus);
      layerControls.append(control);
    });
    outputColumn.replaceChildren();
    const output = element("div", { class: "net-column" });
    columns.push(neuronNodes(output, arch.hidden.length + 1, arch.outputs, true));
    outputColumn.append(output);

    sizeNodes();
    buildLinks();
    requestAnimationFrame(placeLinks);
  }

  function neuronNodes(column, layer, count, isOutput = false) {
    const nodes = [];
    const shown = count > MAX_SHOWN ? MAX_SHOWN - 1 : count;
    for (let index = 0; index < shown; index++) {
      const node = element("div", {
        class: `neuron${isOutput ? " output" : ""}`,
        "data-layer": layer,
        "data-index": index,
        tabindex: 0,
        role: "button",
      });
      node.setAttribute("aria-label", isOutput ? t("network.output_neuron", { index: index + 1 }) : t("network.neuron_label", { layer, index: index + 1 }));
      const canvas = element("canvas", { width: 24, height: 24 });
      node.append(canvas);
      column.append(node);
      nodes.push({ element: node, canvas, index });
    }
    if (shown < count) column.append(element("div", { class: "more" }, `+${formatInteger(count - shown)}`));
    return nodes;
  }

  function sizeNodes() {
    const rows = Math.max(...columns.slice(1).map((nodes) => nodes.length), drawn.is2d ? drawn.allFeatures.length : 1);
    const height = body.clientHeight || 320;
    const size = Math.max(12, Math.min(58, Math.floor(((height - 12) / rows) * 0.8)));
    root.style.setProperty("--node", `${size}px`);
    root.classList.toggle("tiny-nodes", size < 22);
  }

  function buildLinks() {
    svg.replaceChildren();
    links = [];
    const hits = [];
    for (let k = 0; k + 1 < columns.length; k++) {
      for (const to of columns[k + 1]) {
        for (const from of columns[k]) {
          const path = document.createElementNS(SVG_NS, "path");
          path.classList.add("link");
          // A wider, unseen twin takes the clicks: a thin link is hard to hit.
          const hit = document.createElementNS(SVG_NS, "path");
          hit.classList.add("link-hit");
          hit.dataset.link = String(links.length);
          // the weight it stands for, as PATCH /weights names it: W[layer][row][column]
          Object.assign(hit.dataset, { layer: k + 1, row: to.index, column: from.index });
          hit.append(document.createElementNS(SVG_NS, "title"));
          svg.append(path);
          hits.push(hit);
          links.push({ k, from, to, path, hit });
        }
      }
    }
    svg.append(...hits); // above every link
    paintWeights(store.state);
  }

  function placeLinks() {
    const box = body.getBoundingClientRect();
    if (!box.width) return;
    svg.setAttribute("viewBox", `0 0 ${box.width} ${box.height}`);
    const centre = (node, side) => {
      const r = node.element.getBoundingClientRect();
      return [side === "right" ? r.right - box.left : r.left - box.left, r.top + r.height / 2 - box.top];
    };
    for (const link of links) {
      const [x1, y1] = centre(link.from, "right");
      const [x2, y2] = centre(link.to, "left");
      const mid = (x1 + x2) / 2;
      const d = `M${x1.toFixed(1)},${y1.toFixed(1)} C${mid.toFixed(1)},${y1.toFixed(1)} ${mid.toFixed(1)},${y2.toFixed(1)} ${x2.toFixed(1)},${y2.toFixed(1)}`;
      link.path.setAttribute("d", d);
      link.hit.setAttribute("d", d);
    }
  }

  // --- what the run says about it ----------------------------------------------------------------

  /** The model's weights, when they belong to the network on screen. */
  function matchingWeights(state) {
    const weights = state.model?.weights;
    if (!weights || !drawn) return null;
    const sizes = [drawn.inputs.length, ...drawn.hidden, drawn.outputs];
    if (weights.length !== sizes.length - 1) return null;
    const fits = weights.every((layer, k) => layer.weight.length === sizes[k + 1] && (layer.weight[0]?.length ?? 0) === sizes[k]);
    return fits ? weights : null;
  }

  function paintWeights(state) {
    const weights = matchingWeights(state);
    root.classList.toggle("has-weights", Boolean(weights));
    root.classList.toggle("editable", Boolean(weights) && canSetWeights(state.run));
    if (!weights) {
      for (const link of links) {
        link.path.style.stroke = "";
        link.path.style.strokeWidth = "";
        link.path.style.opacity = "";
      }
      return;
    }
    // Each layer against its own largest weight, so that small first-layer weights still show.
    const largest = weights.map((layer) => Math.max(1e-6, ...layer.weight.map((row) => Math.max(...row.map(Math.abs)))));
    for (const link of links) {
      const w = weights[link.k].weight[link.to.index][link.from.index];
      const ratio = Math.min(1, Math.abs(w) / largest[link.k]);
      link.path.style.stroke = w >= 0 ? BLUE : ORANGE;
      link.path.style.strokeWidth = (0.4 + 5.6 * ratio).toFixed(2);
      link.path.style.opacity = (0.3 + 0.65 * Math.sqrt(ratio)).toFixed(2);
      link.hit.firstChild.textContent = t("network.link_title", { from: nodeName(link.k, link.from), to: nodeName(link.k + 1, link.to), value: formatFixed(w, 3) });
    }
  }

  /** How the forward pass and the formulas write a node: x₁² for an input, h¹₂, or the output. */
  function nodeName(column, node) {
    if (column === 0) return drawn.is2d ? featureLabel(node.feature, drawn.columns) : inputLabel(drawn.inputs[node.index]);
    if (column === columns.length - 1) return t("network.output_neuron", { index: node.index + 1 });
    return hiddenLabel(column, node.index + 1);
  }

  function paintMaps(state) {
    if (!drawn) return;
    const theme = state.view.theme;
    if (drawn.is2d && drawn.extent) {
      for (const node of columns[0]) if (node.canvas) paintFeature(node.canvas, node.feature, drawn.extent, theme);
    }
    const layers = state.neurons?.layers ?? [];
    drawn.hidden.forEach((width, l) => {
      const grids = layers[l]?.neurons;
      const nodes = columns[l + 1];
      if (!grids || grids.length !== width) {
        for (const node of nodes) clearCanvas(node.canvas);
        return;
      }
      const range = Math.max(1e-6, ...grids.map((grid) => Math.max(Math.abs(grid.min), Math.abs(grid.max))));
      for (const node of nodes) {
        const grid = grids[node.index];
        paintSigned(node.canvas, grid.values, grid.nx, grid.ny, range, theme);
      }
    });
    const outputs = columns[columns.length - 1];
    const grid = state.grid;
    for (const node of outputs) {
      if (!grid) clearCanvas(node.canvas);
      else paintOutput(node.canvas, grid, drawn.task, theme, { onlyClass: drawn.task === "multiclass" ? node.index : null });
    }
  }

  function paintSelection(state) {
    const selected = state.selected;
    for (const node of root.querySelectorAll(".neuron")) {
      const on = selected && Number(node.dataset.layer) === selected.layer && Number(node.dataset.index) === selected.index;
      node.classList.toggle("selected", Boolean(on));
      node.setAttribute("aria-pressed", String(Boolean(on)));
    }
  }

  function describe(state) {
    const summary = state.run?.modelInfo?.summary;
    const depth = state.config.hidden.length;
    const layers = depth === 0 ? t("network.no_hidden") : t("network.caption", { depth, widths: state.config.hidden.join(" + ") });
    caption.textContent = summary ? `${layers} · ${t("network.parameters", { count: formatInteger(summary.total_parameters) })}` : layers;
  }

  // --- wiring ------------------------------------------------------------------------------------

  function render(state) {
    const arch = architecture(state);
    if (JSON.stringify(arch) !== JSON.stringify(drawn)) build(arch);
    paintWeights(state);
    paintMaps(state);
    paintSelection(state);
    describe(state);
  }

  root.addEventListener("click", (event) => {
    const hit = event.target.closest(".link-hit");
    if (hit && root.classList.contains("editable")) {
      const link = links[Number(hit.dataset.link)];
      store.set({ selected: { layer: link.k + 1, index: link.to.index } });
      store.emit("edit-weight", { layer: link.k + 1, row: link.to.index, column: link.from.index });
      return;
    }
    const node = event.target.closest(".neuron");
    if (!node) return;
    const picked = { layer: Number(node.dataset.layer), index: Number(node.dataset.index) };
    const same = store.state.selected && store.state.selected.layer === picked.layer && store.state.selected.index === picked.index;
    store.set({ selected: same ? null : picked });
  });
  root.addEventListener("keydown", (event) => {
    if ((event.key === "Enter" || event.key === " ") && event.target.classList.contains("neuron")) {
      event.preventDefault();
      event.stopPropagation();
      event.target.click();
    }
  });
  // Hovering a neuron brings its links forward.
  root.addEventListener("mouseover", (event) => highlight(event.target.closest(".neuron")));
  root.addEventListener("mouseout", (event) => {
    if (!event.relatedTarget?.closest?.(".neuron")) highlight(null);
  });
  function highlight(nodeElement) {
    svg.classList.toggle("focused", Boolean(nodeElement));
    for (const link of links) {
      link.path.classList.toggle("hot", Boolean(nodeElement) && (link.from.element === nodeElement || link.to.element === nodeElement));
    }
  }

  // A number of the forward pass hovered: {layer, index} lights that node and its links,
  // {layer, index, from} the one link of that weight and its two ends; null lights nothing.
  store.listen("highlight", (target) => {
    for (const lit of root.querySelectorAll(".lit")) lit.classList.remove("lit");
    const node = target && columns[target.layer]?.find((item) => item.index === target.index);
    if (!node) {
      highlight(null);
      return;
    }
    node.element.classList.add("lit");
    if (target.from === undefined) {
      highlight(node.element);
      return;
    }
    const from = columns[target.layer - 1]?.find((item) => item.index === target.from);
    from?.element.classList.add("lit");
    svg.classList.add("focused");
    for (const link of links) link.path.classList.toggle("hot", link.to === node && link.from === from);
  });

  new ResizeObserver(() => {
    if (!drawn) return;
    sizeNodes();
    placeLinks();
  }).observe(body);

  store.on(["config", "preview", "run", "info"], (state) => render(state));
  store.on(["model"], paintWeights);
  store.on(["neurons", "grid", "view"], paintMaps);
  store.on(["selected"], paintSelection);
  let drawnLanguage = store.state.view.lang;
  store.on(["view"], (state) => {
    if (drawn && state.view.lang !== drawnLanguage) {
      drawnLanguage = state.view.lang;
      drawn = null; // built again, in the new language
      render(state);
    }
  });
  return { render: () => render(store.state) };
}

/** "x₁²: the square of x₁", in the data's own column names. */
function describeFeature(feature, columns) {
  const [x1, x2] = columns.map(inputLabel);
  return t(`feature.${feature}`, { label: featureLabel(feature, columns), x1, x2 });
}

function clearCanvas(canvas) {
  canvas?.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
}
