"""The words of the generated script: its comments and printed messages, in each language."""

from typing import Literal, get_args

Language = Literal["en", "es"]
LANGUAGES: tuple[Language, ...] = get_args(Language)

# Every comment and printed message of the script, by language. `$name` is filled by the
# generator; `{...}` is the script's own f-string and stays as it is. Comment lines longer
# than MAX_LINE are wrapped; the phrases behind code on the same line must stay short.
PHRASES: dict[Language, dict[str, str]] = {
    "en": {
        "title": "A LayerLab run as a standalone PyTorch script.",
        "summary": "$dataset, $layers, optimizer $optimizer at learning rate $lr, batches of "
        "$batch_size, $epochs epochs$penalty, seed $seed. Same data, initial weights, batches "
        "and optimizer as LayerLab's run: on the CPU, with the same library versions, it ends "
        "with exactly the numbers of `layerlab train --device cpu`. Needs torch, numpy and "
        "scikit-learn: run it with `python script.py`.",
        "summary_data": "Dataset $name ($samples points, noise $noise, seed $seed)",
        "summary_csv": "Dataset csv (your table)",
        "summary_hidden": "hidden layers $widths with activation $activation",
        "summary_no_hidden": "no hidden layer",
        "summary_penalty": ", $kind penalty $rate",
        "data_moons": "Data: $samples points on two interleaving half circles",
        "data_circles": "Data: $samples points on a ring of radius 1 around one of radius 0.5 "
        "(noise scaled by 0.4)",
        "data_xor": "Data: $samples points in a square; the label is 1 where x1 and x2 have "
        "the same sign",
        "data_xor_gap": "a small gap along the axes, where the label flips",
        "data_gaussian": "Data: $samples points in two Gaussian clouds: class 0 around "
        "(-1, -1), class 1 around (1, 1)",
        "data_spiral": "Data: $samples points on two interleaved spiral arms",
        "data_spiral_radius": "distance from the centre",
        "data_spiral_turn": "the arm of class 1 is turned by half a turn",
        "data_blobs": "Data: $samples points in $classes Gaussian clouds on a circle of "
        "radius 2, one class each",
        "data_multigauss": "Data: $samples points in a square; the target is a surface of "
        "signed Gaussian bumps",
        "data_multigauss_bump": "(x, y, height, width) of each bump",
        "data_plane": "Data: $samples points (x1, x2) in [-10, 10] and targets $plane_formula "
        "+ noise (the course writes x2 as z)",
        "data_features4": "Data: $samples points of 4 features in [0, 1]; a hidden linear "
        "rule gives the labels, and the noise flips a share of them (noise 1 flips half: the "
        "labels are then random)",
        "data_csv": "Data: your CSV table, a header row then one row per point. A simple "
        "reader: every column but the label holds numbers, and no cell is empty.",
        "csv_upload": "Put the CSV next to this script, under this name, and run the "
        "script from its folder. Download it from the page or from "
        "GET /api/datasets/$dataset_id/file",
        "data_csv_delimiters": "comma, semicolon or tab",
        "csv_last_column": "the last column",
        "split_classes": "$percent% of the points for training, the rest for testing (each "
        "class in the same share)",
        "split_regression": "$percent% of the points for training, the rest for testing",
        "features_shape": "(N, 2) points -> (N, $n_inputs) model inputs",
        "features_note": "The float32 points' features, computed in numpy as LayerLab does: "
        "torch.sin rounds otherwise",
        "model": "Model: $layers",
        "model_linear": "no hidden layer, one linear map from $n_inputs inputs to $outputs",
        "model_one_hidden": "1 hidden layer",
        "model_hidden": "$depth hidden layers",
        "model_no_activation": "$hidden without activation (so one linear map), $outputs",
        "model_activation": "$hidden with $activation, then $outputs",
        "outputs_binary": "1 output (the logit of class 1)",
        "outputs_multiclass": "$n_outputs outputs (a logit per class)",
        "outputs_regression": "1 output (the prediction)",
        "initial_seed": "the seed of the initial weights",
        "loss_and_optimizer": "Loss and optimizer",
        "loss_binary": "sigmoid + BCELoss in one numerically stable step",
        "loss_multiclass": "softmax + negative log-likelihood",
        "loss_regression": "mean squared error",
        "not_biases": "not the biases",
        "penalty": "$kind penalty",
        "training": "Training: each epoch visits the training points in a new random order, "
        "in minibatches",
        "batch_seed": "the seed of the batch order",
        "batch_binary": "(batch, 1) -> (batch,), like the labels",
        "batch_multiclass": "(batch, $n_outputs): a logit per class",
        "batch_regression": "(batch, 1) -> (batch,), like the targets",
        "progress": "epoch {epoch:4d}: loss {epoch_loss / n_train:.4f}",
        "evaluation_binary": "Evaluation: loss and accuracy (class 1 where the logit > 0: "
        "sigmoid > 0.5) on all points",
        "evaluation_multiclass": "Evaluation: loss and accuracy (the class of the highest "
        "logit) on all points",
        "evaluation_regression": "Evaluation: mean squared error and its root (RMSE, in the "
        "targets' units) on all points",
        "plane_question": "The model computes torch.mm(X, W.T) + b: did it find the plane the "
        "data came from?",
        "plane_learned": "learned weights {w1:.3f}, {w2:.3f} and bias {b:.3f}; "
        "true: $true_w1, $true_w2 and $true_b",
    },
    "es": {
        "title": "Un entrenamiento de LayerLab como script independiente de PyTorch.",
        "summary": "$dataset, $layers, optimizador $optimizer con tasa de aprendizaje $lr, "
        "lotes de $batch_size, $epochs épocas$penalty, semilla $seed. Los mismos datos, pesos "
        "iniciales, lotes y optimizador que el entrenamiento de LayerLab: en la CPU, con las "
        "mismas versiones de las bibliotecas, termina exactamente con los números de "
        "`layerlab train --device cpu`. Necesita torch, numpy y scikit-learn: ejecútalo con "
        "`python script.py`.",
        "summary_data": "Conjunto de datos $name ($samples puntos, ruido $noise, semilla $seed)",
        "summary_csv": "Conjunto de datos csv (tu tabla)",
        "summary_hidden": "capas ocultas $widths con activación $activation",
        "summary_no_hidden": "sin capa oculta",
        "summary_penalty": ", penalización $kind de $rate",
        "data_moons": "Datos: $samples puntos en dos medias lunas entrelazadas",
        "data_circles": "Datos: $samples puntos en un anillo de radio 1 alrededor de otro de "
        "radio 0.5 (ruido escalado por 0.4)",
        "data_xor": "Datos: $samples puntos en un cuadrado; la etiqueta es 1 donde x1 y x2 "
        "tienen el mismo signo",
        "data_xor_gap": "un pequeño hueco junto a los ejes, donde cambia la etiqueta",
        "data_gaussian": "Datos: $samples puntos en dos nubes gaussianas: la clase 0 en torno "
        "a (-1, -1) y la clase 1 en torno a (1, 1)",
        "data_spiral": "Datos: $samples puntos en dos brazos de espiral entrelazados",
        "data_spiral_radius": "distancia al centro",
        "data_spiral_turn": "el brazo de la clase 1 está girado media vuelta",
        "data_blobs": "Datos: $samples puntos en $classes nubes gaussianas sobre una "
        "circunferencia de radio 2, una por clase",
        "data_multigauss": "Datos: $samples puntos en un cuadrado; el objetivo es una "
        "superficie de campanas gaussianas, positivas y negativas",
        "data_multigauss_bump": "(x, y, altura, anchura) de cada campana",
        "data_plane": "Datos: $samples puntos (x1, x2) en [-10, 10] con objetivos "
        "$plane_formula + ruido (el curso escribe x2 como z)",
        "data_features4": "Datos: $samples puntos de 4 características en [0, 1]; una regla "
        "lineal oculta da las etiquetas, y el ruido invierte una parte de ellas (con ruido 1 "
        "se invierte la mitad: las etiquetas quedan al azar)",
        "data_csv": "Datos: tu tabla CSV, una fila de cabecera y luego una fila por punto. Un "
        "lector sencillo: todas las columnas salvo la de la etiqueta contienen números, y "
        "ninguna celda está vacía.",
        "csv_upload": "Pon el CSV junto a este script, con este nombre, y ejecuta el "
        "script desde su carpeta. Descárgalo desde la página o desde "
        "GET /api/datasets/$dataset_id/file",
        "data_csv_delimiters": "coma, punto y coma o tabulador",
        "csv_last_column": "la última columna",
        "split_classes": "El $percent % de los puntos para entrenamiento, el resto para prueba "
        "(cada clase en igual proporción)",
        "split_regression": "El $percent % de los puntos para entrenamiento, el resto para prueba",
        "features_shape": "puntos (N, 2) -> entradas del modelo (N, $n_inputs)",
        "features_note": "Las características de los puntos en float32, calculadas con numpy "
        "como hace LayerLab: torch.sin redondea de otra forma",
        "model": "Modelo: $layers",
        "model_linear": "sin capa oculta, una sola transformación lineal de $n_inputs "
        "entradas a $outputs",
        "model_one_hidden": "1 capa oculta",
        "model_hidden": "$depth capas ocultas",
        "model_no_activation": "$hidden sin activación (en conjunto, una sola transformación "
        "lineal), $outputs",
        "model_activation": "$hidden con $activation y después $outputs",
        "outputs_binary": "1 salida (el logit de la clase 1)",
        "outputs_multiclass": "$n_outputs salidas (un logit por clase)",
        "outputs_regression": "1 salida (la predicción)",
        "initial_seed": "la semilla de los pesos iniciales",
        "loss_and_optimizer": "Función de pérdida y optimizador",
        "loss_binary": "sigmoide + BCELoss en un solo paso numéricamente estable",
        "loss_multiclass": "softmax + log-verosimilitud negativa",
        "loss_regression": "error cuadrático medio",
        "not_biases": "no los sesgos",
        "penalty": "penalización $kind",
        "training": "Entrenamiento: en cada época se recorren los puntos de entrenamiento en "
        "un orden aleatorio nuevo, por minilotes",
        "batch_seed": "la semilla del orden de los lotes",
        "batch_binary": "(batch, 1) -> (batch,), como las etiquetas",
        "batch_multiclass": "(batch, $n_outputs): un logit por clase",
        "batch_regression": "(batch, 1) -> (batch,), como los objetivos",
        "progress": "época {epoch:4d}: pérdida {epoch_loss / n_train:.4f}",
        "evaluation_binary": "Evaluación: pérdida y exactitud (clase 1 donde el logit > 0: "
        "sigmoide > 0.5) sobre todos los puntos",
        "evaluation_multiclass": "Evaluación: pérdida y exactitud (la clase con el logit más "
        "alto) sobre todos los puntos",
        "evaluation_regression": "Evaluación: error cuadrático medio y su raíz (RMSE, en las "
        "unidades del objetivo) sobre todos los puntos",
        "plane_question": "El modelo calcula torch.mm(X, W.T) + b: ¿ha encontrado el plano "
        "del que salen los datos?",
        "plane_learned": "pesos aprendidos {w1:.3f}, {w2:.3f} y sesgo {b:.3f}; "
        "valores reales: $true_w1, $true_w2 y $true_b",
    },
}
