// A room's leaderboard as a table (rank, name, metric, parameters, met), in the server's order:
// met first, then by the challenge's metric, ties by fewer parameters. Names go in as text.

import { element } from "./html.js";
import { formatInteger } from "./format.js";
import { t } from "./i18n.js";
import { formatMetric } from "./room-setup.js";

/** Fill `table` with `board` (GET /api/rooms/{code}/leaderboard); `mine`: a learner id to mark. */
export function renderLeaderboard(table, board, { mine = null } = {}) {
  const metric = board?.metric ?? "test_acc";
  const head = element("tr");
  for (const text of [t("room.board.rank"), t("room.board.name"), t(`room.metric.${metric}`), t("room.board.parameters"), t("room.board.met")]) {
    head.append(element("th", { scope: "col" }, text));
  }
  const rows = (board?.entries ?? []).map((entry) => {
    const row = element("tr", {
      "data-learner": entry.learner_id,
      "data-status": entry.status,
      "data-metric": entry.metric ?? "",
      "data-parameters": entry.parameters ?? "",
    });
    if (entry.learner_id === mine) row.classList.add("mine");
    if (entry.met) row.classList.add("met");
    row.append(
      element("td", { class: "number" }, String(entry.rank)),
      element("th", { scope: "row", class: "board-name" }, entry.name),
      element("td", { class: "number board-metric" }, formatMetric(metric, entry.metric)),
      element("td", { class: "number" }, entry.parameters === null ? "–" : formatInteger(entry.parameters)),
      element("td", { class: "board-met" }, entry.met ? t("room.met") : ""),
    );
    return row;
  });
  const caption = element("caption", { class: "visually-hidden" }, t("room.leaderboard"));
  const body = element("tbody");
  if (rows.length) body.append(...rows);
  else {
    const empty = element("tr");
    empty.append(element("td", { colspan: 5, class: "hint" }, t("room.board.empty")));
    body.append(empty);
  }
  const thead = element("thead");
  thead.append(head);
  table.replaceChildren(caption, thead, body);
}
