"""MLflow ``pyfunc`` model of a saved Crucible activity model ("models from code").

:func:`crucible.chem.activity.register_model` logs this file as the model's code, with the
Crucible model folder as the ``model`` artifact. ``mlflow.pyfunc.load_model(uri).predict``
then takes a DataFrame with a ``smiles`` column (or a list of SMILES) and returns one
prediction per row (NaN for unparsable SMILES). Loading needs Crucible importable.
"""

from __future__ import annotations

from mlflow.models import set_model
from mlflow.pyfunc import PythonModel


class ActivityModelPyfunc(PythonModel):
    """Loads the Crucible model folder logged as the ``model`` artifact."""

    def load_context(self, context):  # type: ignore[no-untyped-def]  # MLflow reads hints
        """Load the activity model from the logged folder."""
        from crucible.chem.activity import load_activity_model

        self.model = load_activity_model(context.artifacts["model"])

    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        """Predictions for ``model_input["smiles"]`` (or an iterable of SMILES)."""
        smiles = model_input["smiles"] if hasattr(model_input, "columns") else model_input
        return self.model.predict([str(s) for s in smiles])


set_model(ActivityModelPyfunc())
