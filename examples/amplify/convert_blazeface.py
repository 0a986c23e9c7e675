"""Builds the TensorFlow.js graph model Amplify's face detector loads (config.faceModelUrl) from
the pinned BlazeFace ONNX file the server uses, reproducibly and offline.

@tensorflow-models/face-detection (MediaPipe short range, tfjs runtime) wants one input
[1,128,128,3] (NHWC, values in [-1, 1]) and one output [1,896,17] named Identity: per anchor
(stride 8 first, then stride 16) the score logit in channel 0 and the 16 regressors in 1-16.

  python convert_blazeface.py MODEL.onnx OUT_DIR

1. Edit the ONNX graph (the onnx package): drop the leading NHWC-to-NCHW Transpose (the graph
   input becomes NCHW, so onnx2tf gives the TF model an NHWC [1,128,128,3] input); replace each
   zero-Concat channel padding with Pad; concatenate the four outputs into Identity [1,896,17].
2. onnx2tf (1.29.16: later versions make grouped Conv2D of depthwise convolutions, which TF.js
   cannot run) to a SavedModel. It would download a calibration sample for image inputs: a
   seeded file of that name is put in its working directory first (the weights do not use it).
3. tensorflowjs_converter to a graph model (model.json + weights).
4. Check: the converted model's output equals the ONNX model's (onnx's reference evaluator) on
   a real photograph, within 1e-3.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def edit(model: onnx.ModelProto) -> onnx.ModelProto:
    graph = model.graph
    nodes = list(graph.node)
    (graph_input,) = graph.input
    # 1. The leading transpose: its consumers read the (now NCHW) graph input directly.
    first = next(n for n in nodes if n.op_type == "Transpose" and n.input[0] == graph_input.name)
    for node in nodes:
        for i, name in enumerate(node.input):
            if name == first.output[0]:
                node.input[i] = graph_input.name
    nodes.remove(first)
    dims = graph_input.type.tensor_type.shape.dim
    n, h, w, c = (d.dim_value for d in dims)
    for d, value in zip(dims, (n, c, h, w)):
        d.dim_value = value
    # 2. Concat(x, ConstantOfShape(zeros)) on the channel axis -> Pad(x).
    producers = {out: node for node in nodes for out in node.output}
    inits = {init.name: init for init in graph.initializer}
    for node in list(nodes):
        if node.op_type != "Concat" or len(node.input) != 2:
            continue
        zeros = producers.get(node.input[1])
        if zeros is None or zeros.op_type != "ConstantOfShape":
            continue
        shape = numpy_helper.to_array(inits[zeros.input[0]])
        extra = int(shape[1])
        pads_name = f"{node.output[0]}_pads"
        graph.initializer.append(
            numpy_helper.from_array(np.array([0, 0, 0, 0, 0, extra, 0, 0], dtype=np.int64), pads_name)
        )
        pad = helper.make_node("Pad", [node.input[0], pads_name], list(node.output), mode="constant")
        nodes[nodes.index(node)] = pad
        nodes.remove(zeros)
    # 3. One output: [scores(512+384) | regressors(512+384)] -> [1, 896, 17] named Identity.
    outputs = {o.name: o for o in graph.output}
    renamed = {}
    for name in outputs:
        renamed[name] = f"raw_{name.replace(':', '_')}"
        for node in nodes:
            for i, out in enumerate(node.output):
                if out == name:
                    node.output[i] = renamed[name]
    nodes += [
        helper.make_node("Concat", [renamed["Identity:0"], renamed["Identity_1:0"]], ["scores"], axis=1),
        helper.make_node("Concat", [renamed["Identity_2:0"], renamed["Identity_3:0"]], ["regressors"], axis=1),
        helper.make_node("Concat", ["scores", "regressors"], ["Identity"], axis=2),
    ]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info("Identity", TensorProto.FLOAT, [1, 896, 17]))
    used = {name for node in nodes for name in node.input}
    kept = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    onnx.checker.check_model(model)
    return model


def photo_input(path: Path) -> np.ndarray:
    """The test photograph letterboxed into 128x128, NHWC, in [-1, 1] (decoded by FFmpeg)."""
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-vf",
         "scale=128:128:force_original_aspect_ratio=decrease,pad=128:128:(ow-iw)/2:(oh-ih)/2",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        check=True, capture_output=True,
    ).stdout
    return (np.frombuffer(raw, dtype=np.uint8).reshape(1, 128, 128, 3).astype(np.float32) / 127.5) - 1.0


def main() -> None:
    source, out_dir, photo = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    work = out_dir.parent / (out_dir.name + ".work")
    work.mkdir(parents=True, exist_ok=True)
    edited = edit(onnx.load(str(source)))
    edited_path = work / "blazeface_nchw.onnx"
    onnx.save(edited, str(edited_path))
    # The calibration sample onnx2tf would download (only used for quantisation): seeded noise.
    rng = np.random.default_rng(20240601)
    np.save(work / "calibration_image_sample_data_20x128x128x3_float32.npy",
            rng.random((20, 128, 128, 3), dtype=np.float32))
    saved_model = work / "saved_model"
    subprocess.run(
        [sys.executable, "-m", "onnx2tf", "-i", edited_path.name, "-o", saved_model.name, "-osd", "-n"],
        check=True, cwd=work,
    )
    subprocess.run(
        [sys.executable, "-m", "tensorflowjs.converters.converter", "--input_format=tf_saved_model",
         "--output_format=tfjs_graph_model", "--signature_name=serving_default",
         str(saved_model), str(out_dir)],
        check=True,
    )
    # Check the SavedModel against the original ONNX on a real photograph.
    import tensorflow as tf
    from onnx.reference import ReferenceEvaluator

    x = photo_input(photo)
    original = ReferenceEvaluator(onnx.load(str(source))).run(None, {"input:0": x})
    expected = np.concatenate(
        [np.concatenate([original[0], original[1]], axis=1), np.concatenate([original[2], original[3]], axis=1)],
        axis=2,
    )
    model = tf.saved_model.load(str(saved_model))
    signature = model.signatures["serving_default"]
    (input_name,) = signature.structured_input_signature[1].keys()
    got = list(signature(**{input_name: tf.constant(x)}).values())[0].numpy()
    error = float(np.max(np.abs(got - expected)))
    best = int(np.argmax(expected[0, :, 0]))
    print(f"converted: max abs difference {error:.2e} over {expected.size} values; "
          f"best anchor {best} logit {expected[0, best, 0]:.3f} (converted {got[0, best, 0]:.3f})")
    if got.shape != (1, 896, 17) or error > 1e-3 or expected[0, best, 0] < 0:
        sys.exit("the converted model does not match the ONNX model (or finds no face in the photo)")


if __name__ == "__main__":
    main()
