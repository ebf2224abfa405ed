"""Optimization, knowing nothing of PEFT: mobo (``sampler``: BoTorch surrogates in
``surrogate``, qLogNEHVI in ``acquisition``, a discrete candidate search in ``candidates``,
the parameter encoding in ``param_encoding``), multi-objective successive halving
(``fidelity``), hypervolume helpers, and the sampler factory (``samplers``)."""
