"""train: fit small Keras CNNs on original vs expanded datasets and report honestly.

The ``train`` command imports TensorFlow only inside the commands that need it.
"""

from expander.tf_setup import tensorflow_defaults

__version__ = "0.1.0"

tensorflow_defaults()  # before any TensorFlow import by train's modules (a caller's own import comes first)
