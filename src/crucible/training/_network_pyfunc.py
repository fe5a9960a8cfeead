"""MLflow ``pyfunc`` model of a saved Crucible network ("models from code").

:func:`crucible.training.export.log_network_model` logs this file as the model's code,
with the folder written by :func:`crucible.training.export.save_network` as the
``network`` artifact (weights as a plain state dict, config as JSON). Nothing is
unpickled on load: the weights are read with ``torch.load(weights_only=True)``.
``mlflow.pyfunc.load_model(uri).predict(x)`` takes a float array (or DataFrame) of
``batch x *input_shape`` and returns the network's raw outputs as numpy. Loading needs
Crucible importable.
"""

from __future__ import annotations

from mlflow.models import set_model
from mlflow.pyfunc import PythonModel


class NetworkPyfunc(PythonModel):
    """Rebuilds the network from the logged ``network`` folder."""

    def load_context(self, context):  # type: ignore[no-untyped-def]  # MLflow reads hints
        """Rebuild the network from its JSON config and load its weights safely."""
        from crucible.training.export import load_network

        self.network = load_network(context.artifacts["network"])

    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        """The network's outputs for ``model_input`` (``batch x *input_shape``)."""
        import numpy as np
        import torch

        values = model_input.to_numpy() if hasattr(model_input, "to_numpy") else model_input
        x = torch.as_tensor(np.asarray(values, dtype=np.float32))
        with torch.no_grad():
            return self.network(x).numpy()


set_model(NetworkPyfunc())
