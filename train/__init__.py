"""train: fit small Keras CNNs on original vs expanded datasets and report honestly.

The ``train`` command imports TensorFlow only inside the commands that need it.
"""

__version__ = "0.1.0"
