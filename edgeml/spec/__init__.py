"""What a bundle declares: the fitted prep plan, the feature plan and the formulas they use.

Plain, JSON-serialisable dataclasses, read by every executor (Polars for training and batch,
the NumPy runtime for single rows, generated C and ONNX on devices).

- :mod:`edgeml.spec.prep_plan`: the PrepPlan (cleaning, transformation, reduction)
- :mod:`edgeml.spec.feature_plan`: the FeaturePlan (extraction, creation, selection)
- :mod:`edgeml.spec.formula`: user-defined features as safe formulas
"""
