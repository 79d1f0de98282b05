"""The script a subprocess runs with real Keras 2 (``tf_keras``) to write the corpus's
Keras 2 files: tfzoo's own process never imports it."""

#: ``python -c KERAS2_WRITER OUT_DIR``: writes Keras 2 files of several kinds into OUT_DIR.
KERAS2_WRITER = r"""
import json, os, sys
os.environ["TF_USE_LEGACY_KERAS"] = "1"
import numpy as np
import tf_keras as keras

out = sys.argv[1]
inp = keras.Input((16, 16, 3), name="input_1")
x = keras.layers.Conv2D(4, 3, activation="relu", name="conv2d")(inp)
x = keras.layers.MaxPooling2D(name="pool")(x)
x = keras.layers.Flatten(name="flatten")(x)
y = keras.layers.Dense(5, activation="softmax", name="predictions")(x)
cnn = keras.Model(inp, y, name="cnn")
cnn.compile(optimizer=keras.optimizers.SGD(0.01), loss="categorical_crossentropy")
cnn.save(os.path.join(out, "functional.h5"))
cnn.save(os.path.join(out, "functional_saved"))  # the Keras 2 SavedModel format
with open(os.path.join(out, "functional.json"), "w") as fh:
    fh.write(cnn.to_json())
cnn.save_weights(os.path.join(out, "functional_weights.h5"))

seq = keras.Sequential([
    keras.layers.Conv2D(4, 3, input_shape=(16, 16, 1), name="conv"),
    keras.layers.BatchNormalization(name="bn"),
    keras.layers.Activation("relu", name="relu"),
    keras.layers.GlobalAveragePooling2D(name="gap"),
    keras.layers.Dense(3, name="dense"),
    keras.layers.Activation("softmax", name="softmax"),
], name="seq")
seq.save(os.path.join(out, "sequential.h5"))

t = keras.Input((16, 16, 3), name="input_1")
h = keras.layers.Conv2D(8, 3, padding="same", name="conv")(t)
h = keras.layers.BatchNormalization(name="bn")(h)
h = keras.layers.Activation("relu", name="relu")(h)
h = keras.layers.AveragePooling2D(8, name="pool")(h)
flat = keras.layers.Flatten(name="flatten_1")(h)
gender = keras.layers.Dense(2, activation="softmax", name="pred_gender")(flat)
age = keras.layers.Dense(101, activation="softmax", name="pred_age")(flat)
keras.Model(t, [gender, age], name="wrn").save(os.path.join(out, "age_gender.h5"))

lam = keras.Sequential([
    keras.layers.Lambda(lambda v: v * 2.0, input_shape=(16, 16, 3), name="double"),
    keras.layers.Flatten(name="flatten"),
    keras.layers.Dense(2, activation="softmax", name="predictions"),
])
lam.save(os.path.join(out, "lambda.h5"))

# a Teachable Machine keras_model.h5 in small: Sequential(Sequential(MobileNet trunk, GAP),
# Sequential(Dense, Dense softmax)); DepthwiseConv2D saves groups=1, which Keras 3 refuses
trunk = keras.applications.MobileNet(
    input_shape=(32, 32, 3), alpha=0.25, include_top=False, weights=None
)
tm = keras.Sequential([
    keras.Sequential([trunk, keras.layers.GlobalAveragePooling2D()], name="sequential_1"),
    keras.Sequential([
        keras.layers.Dense(8, activation="relu", name="dense_Dense1"),
        keras.layers.Dense(3, activation="softmax", name="dense_Dense2"),
    ], name="sequential_3"),
], name="sequential_4")
tm.build((None, 32, 32, 3))
rng = np.random.default_rng(1)  # BatchNorm values that are not 0 / 1, so their order counts
def bn_value(name, w):
    if "moving_variance" in name or "gamma" in name:
        return rng.uniform(0.7, 1.3, w.shape).astype("float32")
    if "moving_mean" in name or "beta" in name:
        return rng.normal(0, 0.1, w.shape).astype("float32")
    if "depthwise_kernel" in name:  # He-scaled, so the signal lives through 27 layers
        return rng.normal(0, np.sqrt(2 / np.prod(w.shape[:2])), w.shape).astype("float32")
    if "kernel" in name:
        return rng.normal(0, np.sqrt(2 / np.prod(w.shape[:-1])), w.shape).astype("float32")
    return w
tm.set_weights([bn_value(v.name, w) for v, w in zip(tm.weights, tm.get_weights())])
tm.save(os.path.join(out, "teachable.h5"))
tm_probe = rng.uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
np.save(os.path.join(out, "teachable_probe.npy"), tm_probe)
np.save(os.path.join(out, "teachable_out.npy"), tm.predict(tm_probe, verbose=0))

probe = np.random.default_rng(0).uniform(0, 1, (2, 16, 16, 3)).astype("float32")
np.save(os.path.join(out, "probe.npy"), probe)
np.save(os.path.join(out, "functional_out.npy"), cnn.predict(probe, verbose=0))
flatten = keras.Model(inp, cnn.get_layer("flatten").output)
np.save(os.path.join(out, "functional_flatten.npy"), flatten.predict(probe, verbose=0))
print(json.dumps({"keras": keras.__version__}))
"""
