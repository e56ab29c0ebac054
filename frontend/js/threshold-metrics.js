// A binary classifier's numbers at a decision threshold, from the test labels and scores
// (p(class 1)) that /roc gives: a point is predicted positive (class 1) when its score ≥ the
// threshold. Pure functions: the slider moves, nothing is asked of the server.

/** [[TN, FP], [FN, TP]]: rows the true class (0, 1), columns the predicted one, as results.js draws. */
export function confusionAt(labels, scores, threshold) {
  const matrix = [
    [0, 0],
    [0, 0],
  ];
  labels.forEach((label, i) => {
    matrix[label ? 1 : 0][scores[i] >= threshold ? 1 : 0] += 1;
  });
  return matrix;
}

/**
 * Accuracy, precision, recall, F1, and the false/true positive rates (the ROC curve's axes);
 * null where a share has nothing to divide by (no point predicted positive: no precision).
 */
export function scoresOf(matrix) {
  const [[tn, fp], [fn, tp]] = matrix;
  const share = (part, whole) => (whole > 0 ? part / whole : null);
  const precision = share(tp, tp + fp);
  const recall = share(tp, tp + fn);
  const f1 = precision !== null && recall !== null && precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : null;
  return {
    accuracy: share(tp + tn, tp + tn + fp + fn),
    precision,
    recall,
    f1,
    falsePositiveRate: share(fp, fp + tn),
    truePositiveRate: recall,
  };
}
