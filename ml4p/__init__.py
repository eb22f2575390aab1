"""ml4p: Machine learning for physicists, a course in a box.

Importing ml4p first in a notebook keeps TensorFlow's C++ log lines off stderr
(nbgrader scores any stderr in a graded cell 0) and selects Keras's
TensorFlow backend. Students get this package; the exercises are theirs.
"""
import os as _os

__version__ = "0.1.0"

#: Environment that keeps TensorFlow quiet; set before TensorFlow is imported.
QUIET_TF_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "3",  # C++ INFO/WARNING/ERROR lines off
    "TF_ENABLE_ONEDNN_OPTS": "0",  # no "oneDNN custom operations are on" notice
    "GRPC_VERBOSITY": "ERROR",  # no gRPC start-up chatter
    "KERAS_BACKEND": "tensorflow",  # Keras 3 on TensorFlow
}

for _key, _value in QUIET_TF_ENV.items():
    _os.environ.setdefault(_key, _value)
