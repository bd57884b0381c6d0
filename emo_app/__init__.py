"""Emotion Studio: text -> emotions -> ARKit blendshapes -> a 3D face, the C2A2 emotion space,
and the Emo3D metric. Importing this package loads no model and touches no network."""

__version__ = "0.1.0"
